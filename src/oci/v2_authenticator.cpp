#include "berth/oci/v2_authenticator.hpp"

#include <openssl/crypto.h>

#include <charconv>

#include "berth/oci/wire_error.hpp"

namespace berth::oci {

http::response v2_authenticator::challenge(const http::request& req, const error& e) const {
  // Credentials were sent and refused (a request without any is asked for them: see check()).
  req.notes.unauthenticated = req.header("Authorization").has_value() || req.has_query_param("X-Berth-Signature");
  auto r = error_response(e);
  if (r.status == 401) {
    auto host = std::string(req.header("Host").value_or("localhost"));
    r.headers.add("WWW-Authenticate", "Basic realm=\"" + scheme_ + "://" + host + "/\",service=\"ecr.amazonaws.com\"");
  }
  return r;
}

namespace {

bool is_pull(const http::request& req, const v2_route& route) {
  const bool read = req.method == http::verb::get || req.method == http::verb::head;
  return read && (route.endpoint == v2_endpoint::manifest || route.endpoint == v2_endpoint::blob);
}

}  // namespace

std::optional<http::response> v2_authenticator::check(const http::request& req, const v2_route& route,
                                                      auth::identity& who) const {
  const auto now = clock_.now_seconds();
  // A GetDownloadUrlForLayer URL carries its own proof.
  if (route.endpoint == v2_endpoint::blob && (req.method == http::verb::get || req.method == http::verb::head)) {
    auto expires_text = req.query_param("X-Berth-Expires");
    auto signature = req.query_param("X-Berth-Signature");
    if (expires_text && signature) {
      std::int64_t expires = 0;
      auto [p, ec] = std::from_chars(expires_text->data(), expires_text->data() + expires_text->size(), expires);
      if (ec == std::errc() && urls_.verify(route.name, route.arg, expires, *signature, now)) {
        who = auth::identity{};
        who.name = "download-url";
        who.full_access = true;
        return std::nullopt;
      }
      return challenge(req, make_error(errc::denied, "The download URL is invalid or has expired"));
    }
  }
  auto authz = req.header("Authorization");
  if (!authz) {
    if (anonymous_pull_ && route.name_valid && is_pull(req, route)) {
      const char* action = route.endpoint == v2_endpoint::manifest ? "ecr:BatchGetImage" : "ecr:GetDownloadUrlForLayer";
      if (anonymous_pull_->allows_anonymous(action, route.name)) {
        who = auth::identity{};
        who.name = "anonymous";
        req.notes.principal = "anonymous";
        return std::nullopt;
      }
    }
    return challenge(req, make_error(errc::unauthorized, "authentication required"));
  }
  std::string token;
  if (authz->starts_with("Basic ")) {
    auto decoded = auth::base64_decode(authz->substr(6));
    if (!decoded) return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
    if (decoded->substr(0, colon) != "AWS") {
      // Long-lived pull credentials: the access key id and secret of a user who opted in, for
      // reads only (a leaked pull secret never pushes or deletes).
      const bool read = req.method == http::verb::get || req.method == http::verb::head;
      auto found = !read ? std::nullopt : keys_ ? keys_->find(decoded->substr(0, colon)) : std::nullopt;
      const auto secret = std::string_view(*decoded).substr(colon + 1);
      if (!found || !found->who.basic_pull || found->secret_access_key.size() != secret.size() ||
          CRYPTO_memcmp(found->secret_access_key.data(), secret.data(), secret.size()) != 0) {
        return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
      }
      who = std::move(found->who);
      req.notes.principal = who.arn;
      return std::nullopt;
    }
    token = decoded->substr(colon + 1);
  } else if (authz->starts_with("Bearer ")) {
    token = std::string(authz->substr(7));
  } else {
    return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
  }
  auto verified = tokens_.verify(token, now);
  if (!verified) return challenge(req, verified.error_value());
  req.notes.principal = verified->arn;
  who = std::move(*verified);
  return std::nullopt;
}

}  // namespace berth::oci
