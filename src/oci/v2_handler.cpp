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
    return decorate(error_response(make_error(
        inner_->mode() == http::body_mode::stream ? errc::blob_upload_invalid : errc::manifest_invalid,
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

std::unique_ptr<http::exchange> v2_handler::route(const http::request& head) {
  auto r = parse_v2_path(head.path);
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
