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

// "<endpoint>.<method>", for the observer: static strings, so naming a request costs nothing.
std::string_view operation_name(v2_endpoint e, http::verb v) {
  static constexpr const char* names[][7] = {
      {"base.get", "base.head", "base.post", "base.put", "base.patch", "base.delete", "base.other"},
      {"catalog.get", "catalog.head", "catalog.post", "catalog.put", "catalog.patch", "catalog.delete",
       "catalog.other"},
      {"tags.get", "tags.head", "tags.post", "tags.put", "tags.patch", "tags.delete", "tags.other"},
      {"manifest.get", "manifest.head", "manifest.post", "manifest.put", "manifest.patch", "manifest.delete",
       "manifest.other"},
      {"blob.get", "blob.head", "blob.post", "blob.put", "blob.patch", "blob.delete", "blob.other"},
      {"upload_start.get", "upload_start.head", "upload_start.post", "upload_start.put", "upload_start.patch",
       "upload_start.delete", "upload_start.other"},
      {"upload.get", "upload.head", "upload.post", "upload.put", "upload.patch", "upload.delete", "upload.other"},
      {"referrers.get", "referrers.head", "referrers.post", "referrers.put", "referrers.patch", "referrers.delete",
       "referrers.other"},
      {"not_found.get", "not_found.head", "not_found.post", "not_found.put", "not_found.patch", "not_found.delete",
       "not_found.other"},
  };
  return names[static_cast<int>(e)][static_cast<int>(v)];
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

pull_through_cache* v2_handler::through_cache(const http::request& head, const v2_route& r,
                                              const auth::identity& who) const {
  if (!cache_ || (head.method != http::verb::get && head.method != http::verb::head)) return nullptr;
  if (!cache_->covers(r.name)) return nullptr;
  if (access_ && !may_import(*access_, reg_, who, head, r.name)) return nullptr;
  return cache_;
}

std::unique_ptr<http::exchange> v2_handler::route(const http::request& head) {
  auto r = parse_v2_path(head.path);
  head.notes.api = "v2";
  head.notes.operation = operation_name(r.endpoint, head.method);
  std::unique_ptr<http::exchange> ex;
  auth::identity who;
  who.full_access = true;  // auth: none
  if (r.endpoint == v2_endpoint::not_found) {
    ex = http::respond_with(not_found());
  } else if (auto denied = authenticator_ ? authenticator_->check(head, r, who) : std::nullopt) {
    ex = http::respond_with(std::move(*denied));
  } else if (!r.name_valid) {
    ex = error_exchange(make_error(errc::name_invalid, "invalid repository name"));
  } else if (auto allowed = access_ ? authorize_v2(*access_, reg_, who, head, r) : result<void>(); !allowed) {
    // (authorize_v2 noted the decision for the audit log)
    ex = error_exchange(allowed.error_value());
  } else {
    switch (r.endpoint) {
      case v2_endpoint::base:
        ex = head.method == http::verb::get || head.method == http::verb::head ? http::respond_with(base_response())
                                                                               : unsupported_method();
        break;
      case v2_endpoint::catalog:
        if (access_ && !who.full_access) {
          // The filter outlives this call: it keeps what the conditions read (address, transport).
          http::request origin;
          origin.peer = head.peer;
          origin.tls = head.tls;
          ex = catalog_exchange(reg_, head, [access = access_, who, origin](const std::string& name) {
            return may_describe(*access, who, origin, name);
          });
        } else {
          ex = catalog_exchange(reg_, head);
        }
        break;
      case v2_endpoint::tags_list: ex = tags_exchange(reg_, r, head); break;
      case v2_endpoint::manifest:
        ex = manifest_exchange(reg_, r, head,
                               !access_ || head.method != http::verb::get || !access_->pull_time_excluded(who),
                               through_cache(head, r, who));
        break;
      case v2_endpoint::blob: ex = blob_exchange(reg_, r, head, through_cache(head, r, who)); break;
      case v2_endpoint::upload_start: {
        // A mount reads `from`: without pull there, a normal upload starts instead.
        auto from = head.query_param("from");
        const bool may_mount = !access_ || !from || may_pull(*access_, who, head, *from) ||
                               (head.header("X-Berth-Replication") && may_replicate(*access_, who, head, *from));
        ex = upload_start_exchange(reg_, r, head, may_mount);
        break;
      }
      case v2_endpoint::upload: ex = upload_exchange(reg_, r, head); break;
      case v2_endpoint::referrers: ex = referrers_exchange(reg_, r, head, through_cache(head, r, who)); break;
      case v2_endpoint::not_found: ex = http::respond_with(not_found()); break;
    }
  }
  return std::make_unique<v2_exchange>(std::move(ex));
}

}  // namespace berth::oci
