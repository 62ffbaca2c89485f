#include "berth/oci/v2_handler.hpp"

#include <spdlog/spdlog.h>

#include "handlers.hpp"

namespace berth::oci {
namespace {

// Adds the headers every V2 response carries, whatever produced it.
class v2_exchange final : public http::exchange {
 public:
  explicit v2_exchange(std::unique_ptr<http::exchange> inner) : inner_(std::move(inner)) {}
  http::body_mode mode() const override { return inner_->mode(); }
  std::size_t body_limit() const override { return inner_->body_limit(); }
  bool blocking() const override { return inner_->blocking(); }
  http::response too_large() override { return decorate(inner_->too_large()); }
  http::response malformed_body() override {
    return decorate(error_response(
        make_error(inner_->mode() == http::body_mode::stream ? errc::blob_upload_invalid : errc::manifest_invalid,
                   "malformed request body")));
  }
  std::optional<http::response> start(const http::request& req) override {
    auto r = inner_->start(req);
    if (r) return decorate(std::move(*r));
    return r;
  }
  std::optional<http::response> consume(const char* data, std::size_t size) override {
    auto r = inner_->consume(data, size);
    if (r) return decorate(std::move(*r));
    return r;
  }
  http::response finish(http::request& req) override { return decorate(inner_->finish(req)); }

 private:
  static http::response decorate(http::response r) {
    r.headers.set("Docker-Distribution-API-Version", "registry/2.0");
    if (r.status >= 500) spdlog::error("V2 request failed with {}: {}", r.status, r.body);
    return r;
  }
  std::unique_ptr<http::exchange> inner_;
};

http::response base_response() {
  http::response r;
  r.headers.add("Content-Type", "application/json");
  r.body = "{}";
  return r;
}

http::response not_found() {
  http::response r;
  r.status = 404;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.body = "404 page not found\n";
  return r;
}

}  // namespace

std::string blob_location(const std::string& name, const std::string& digest) {
  return "/v2/" + name + "/blobs/" + digest;
}

std::string upload_location(const std::string& name, const std::string& id) {
  return "/v2/" + name + "/blobs/uploads/" + id;
}

namespace {

http::response plain(unsigned status, std::string text) {
  http::response r;
  r.status = status;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(text) + "\n";
  return r;
}

const char* endpoint_name(v2_endpoint e) {
  switch (e) {
    case v2_endpoint::base: return "base";
    case v2_endpoint::catalog: return "catalog";
    case v2_endpoint::tags_list: return "tags";
    case v2_endpoint::manifest: return "manifest";
    case v2_endpoint::blob: return "blob";
    case v2_endpoint::upload_start: return "upload_start";
    case v2_endpoint::upload: return "upload";
    case v2_endpoint::referrers: return "referrers";
    case v2_endpoint::not_found: return "not_found";
  }
  return "not_found";
}

const char* method_name(http::verb v) {
  switch (v) {
    case http::verb::get: return "get";
    case http::verb::head: return "head";
    case http::verb::post: return "post";
    case http::verb::put: return "put";
    case http::verb::patch: return "patch";
    case http::verb::delete_: return "delete";
    case http::verb::other: return "other";
  }
  return "other";
}

}  // namespace

http::response v2_handler::refuse(http::refusal why) {
  switch (why) {
    case http::refusal::too_many_connections: {
      auto r = error_response(make_error(errc::too_many_requests, "too many connections; retry later"));
      r.headers.add("Retry-After", "1");
      r.headers.add("Docker-Distribution-API-Version", "registry/2.0");
      return r;
    }
    case http::refusal::header_too_large: return plain(431, "request header fields too large");
    case http::refusal::malformed_header: return plain(400, "bad request");
    case http::refusal::handler_failed: return plain(500, "internal server error");
  }
  return plain(500, "internal server error");
}

std::unique_ptr<http::exchange> v2_handler::route(const http::request& head) {
  auto r = parse_v2_path(head.path);
  head.notes->api = "v2";
  head.notes->operation = std::string(endpoint_name(r.endpoint)) + "." + method_name(head.method);
  std::unique_ptr<http::exchange> ex;
  if (r.endpoint == v2_endpoint::not_found) {
    ex = http::respond_with(not_found());
  } else if (auto denied = authenticator_ ? authenticator_->check(head, r) : std::nullopt) {
    ex = http::respond_with(std::move(*denied));
  } else if (!r.name_valid) {
    ex = error_exchange(make_error(errc::name_invalid, "invalid repository name"));
  } else {
    switch (r.endpoint) {
      case v2_endpoint::base:
        ex = head.method == http::verb::get || head.method == http::verb::head ? http::respond_with(base_response())
                                                                               : unsupported_method();
        break;
      case v2_endpoint::catalog: ex = catalog_exchange(reg_, head); break;
      case v2_endpoint::tags_list: ex = tags_exchange(reg_, r, head); break;
      case v2_endpoint::manifest: ex = manifest_exchange(reg_, r, head); break;
      case v2_endpoint::blob: ex = blob_exchange(reg_, r, head); break;
      case v2_endpoint::upload_start: ex = upload_start_exchange(reg_, r, head); break;
      case v2_endpoint::upload: ex = upload_exchange(reg_, r, head); break;
      case v2_endpoint::referrers: ex = referrers_exchange(reg_, r, head); break;
      case v2_endpoint::not_found: ex = http::respond_with(not_found()); break;
    }
  }
  return std::make_unique<v2_exchange>(std::move(ex));
}

}  // namespace berth::oci
