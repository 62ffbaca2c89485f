// POST /v2/<name>/blobs/uploads/ and GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>
#include "handlers.hpp"

namespace berth::oci {
namespace {

std::string range_value(std::uint64_t size) { return "0-" + std::to_string(size == 0 ? 0 : size - 1); }

http::response session_response(unsigned status, const std::string& name, const std::string& id, std::uint64_t size) {
  http::response r;
  r.status = status;
  r.headers.add("Location", upload_location(name, id));
  r.headers.add("Range", range_value(size));
  r.headers.add("Docker-Upload-UUID", id);
  return r;
}

http::response committed_response(const std::string& name, const digest& d) {
  http::response r;
  r.status = 201;
  r.headers.add("Location", blob_location(name, d.str()));
  r.headers.add("Docker-Content-Digest", d.str());
  return r;
}

http::response upload_error(const error& e, const std::string& name, const std::string& id) {
  auto r = error_response(e);
  if (e.code == errc::upload_out_of_order) {
    // The client learns where the session really ends and may continue from there.
    const auto* where = std::get_if<upload_detail>(&e.detail);
    const std::uint64_t size = where ? where->size : 0;
    r.headers.add("Location", upload_location(name, id));
    r.headers.add("Range", range_value(size));
    r.headers.add("Docker-Upload-UUID", id);
  }
  return r;
}

// The body of a PATCH, of the closing PUT, or of a monolithic POST ?digest=, streamed into the
// upload file while it is hashed.
class upload_body_exchange final : public http::exchange {
 public:
  enum class kind { patch, put, monolithic_post };

  upload_body_exchange(registry& reg, std::string name, std::string id, kind k)
      : reg_(reg), name_(std::move(name)), id_(std::move(id)), kind_(k) {}
  upload_body_exchange(const upload_body_exchange&) = delete;
  upload_body_exchange& operator=(const upload_body_exchange&) = delete;

  // A monolithic POST that did not complete leaves a session no client knows: remove it now
  // rather than at expiry (a full disk needs the space back).
  ~upload_body_exchange() override {
    if (kind_ == kind::monolithic_post && !id_.empty() && !completed_) {
      session_.reset();
      (void)reg_.cancel_upload(name_, id_);
    }
  }

  http::body_mode mode() const override { return http::body_mode::stream; }
  bool blocking() const override { return kind_ != kind::patch; }

  std::optional<http::response> start(const http::request& req) override {
    std::optional<byte_range> range;
    if (auto cr = req.header("Content-Range"); cr && kind_ != kind::monolithic_post) {
      range = parse_content_range(*cr);
      if (!range) return error_response(make_error(errc::upload_out_of_order, "invalid Content-Range"));
      if (req.content_length && *req.content_length != range->length()) {
        return error_response(make_error(errc::upload_out_of_order, "Content-Range does not match Content-Length"));
      }
    }
    auto algorithm = digest_algorithm::sha256;
    if (kind_ != kind::patch) {
      auto param = req.query_param("digest");
      if (!param) return error_response(make_error(errc::digest_invalid, "digest parameter missing"));
      auto d = digest::parse(*param);
      if (!d) return error_response(d.error_value());
      expected_ = *d;
      algorithm = d->algorithm();
    }
    if (kind_ == kind::monolithic_post) {
      auto s = reg_.start_upload(name_);
      if (!s) return error_response(s.error_value());
      id_ = s->id;
    }
    auto w = reg_.resume_upload(name_, id_, range, algorithm);
    if (!w) {
      if (kind_ == kind::monolithic_post) (void)reg_.cancel_upload(name_, id_);
      return upload_error(w.error_value(), name_, id_);
    }
    session_ = std::move(w).value();
    session_->expect(req.content_length);
    return std::nullopt;
  }

  std::optional<http::response> consume(const char* data, std::size_t size) override {
    if (auto r = session_->write(data, size); !r) return error_response(r.error_value());
    return std::nullopt;
  }

  std::span<char> receive_buffer() override { return session_->receive_buffer(); }

  http::response finish(http::request&) override {
    if (kind_ == kind::patch) {
      if (auto r = session_->checkpoint(); !r) return error_response(r.error_value());
      auto size = session_->size();
      session_.reset();
      return session_response(202, name_, id_, size);
    }
    auto r = reg_.complete_upload(std::move(session_), *expected_);
    completed_ = r.has_value() || r.error_value().code == errc::digest_invalid;  // a mismatch already discarded it
    if (!r) return error_response(r.error_value());
    return committed_response(name_, *expected_);
  }

 private:
  registry& reg_;
  std::string name_;
  std::string id_;
  kind kind_;
  std::optional<digest> expected_;
  std::unique_ptr<upload_session> session_;
  bool completed_ = false;
};

http::response start_session(registry& reg, const std::string& name) {
  auto s = reg.start_upload(name);
  if (!s) return error_response(s.error_value());
  return session_response(202, name, s->id, 0);
}

}  // namespace

std::unique_ptr<http::exchange> upload_start_exchange(registry& reg, const v2_route& route, const http::request& req,
                                                      bool may_mount) {
  if (req.method != http::verb::post) return unsupported_method();
  if (auto mount = req.query_param("mount")) {
    auto d = digest::parse(*mount);
    if (!d) return error_exchange(d.error_value());
    auto from = may_mount ? req.query_param("from") : std::nullopt;
    return std::make_unique<http::function_exchange>(
        [&reg, name = route.name, d = *d, from](http::request&) {
          if (from) {
            auto mounted = reg.mount_blob(name, *from, d);
            if (!mounted) return error_response(mounted.error_value());
            if (*mounted) return committed_response(name, d);
          }
          return start_session(reg, name);
        },
        true);
  }
  if (req.has_query_param("digest")) {
    return std::make_unique<upload_body_exchange>(reg, route.name, std::string(),
                                                  upload_body_exchange::kind::monolithic_post);
  }
  return std::make_unique<http::function_exchange>(
      [&reg, name = route.name](http::request&) { return start_session(reg, name); }, true);
}

std::unique_ptr<http::exchange> upload_exchange(registry& reg, const v2_route& route, const http::request& req) {
  if (!is_valid_upload_id(route.arg)) {
    return error_exchange(make_error(errc::blob_upload_unknown, "blob upload unknown to registry"));
  }
  switch (req.method) {
    case http::verb::get:
    case http::verb::head:
      return std::make_unique<http::function_exchange>(
          [&reg, name = route.name, id = route.arg](http::request&) {
            auto s = reg.get_upload(name, id);
            if (!s) return error_response(s.error_value());
            return session_response(204, name, id, s->size);
          },
          false);
    case http::verb::patch:
      return std::make_unique<upload_body_exchange>(reg, route.name, route.arg, upload_body_exchange::kind::patch);
    case http::verb::put:
      return std::make_unique<upload_body_exchange>(reg, route.name, route.arg, upload_body_exchange::kind::put);
    case http::verb::delete_:
      return std::make_unique<http::function_exchange>(
          [&reg, name = route.name, id = route.arg](http::request&) {
            if (auto r = reg.cancel_upload(name, id); !r) return error_response(r.error_value());
            http::response r;
            r.status = 204;
            return r;
          },
          true);
    default: return unsupported_method();
  }
}

}  // namespace berth::oci
