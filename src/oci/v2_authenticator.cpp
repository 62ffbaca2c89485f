#include "berth/oci/v2_authenticator.hpp"

#include <charconv>

#include "berth/oci/wire_error.hpp"

namespace berth::oci {

http::response v2_authenticator::challenge(const http::request& req, const error& e) const {
  auto r = error_response(e);
  if (r.status == 401) {
    auto host = std::string(req.header("Host").value_or("localhost"));
    r.headers.add("WWW-Authenticate", "Basic realm=\"" + scheme_ + "://" + host + "/\",service=\"ecr.amazonaws.com\"");
  }
  return r;
}

std::optional<http::response> v2_authenticator::check(const http::request& req, const v2_route& route) const {
  const auto now = clock_.now_seconds();
  // A GetDownloadUrlForLayer URL carries its own proof.
  if (route.endpoint == v2_endpoint::blob && (req.method == http::verb::get || req.method == http::verb::head)) {
    auto expires_text = req.query_param("X-Berth-Expires");
    auto signature = req.query_param("X-Berth-Signature");
    if (expires_text && signature) {
      std::int64_t expires = 0;
      auto [p, ec] = std::from_chars(expires_text->data(), expires_text->data() + expires_text->size(), expires);
      if (ec == std::errc() && urls_.verify(route.name, route.arg, expires, *signature, now)) return std::nullopt;
      return challenge(req, make_error(errc::denied, "The download URL is invalid or has expired"));
    }
  }
  auto authz = req.header("Authorization");
  if (!authz) return challenge(req, make_error(errc::unauthorized, "authentication required"));
  std::string token;
  if (authz->starts_with("Basic ")) {
    auto decoded = auth::base64_decode(authz->substr(6));
    if (!decoded) return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
    auto colon = decoded->find(':');
    if (colon == std::string::npos || decoded->substr(0, colon) != "AWS") {
      return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
    }
    token = decoded->substr(colon + 1);
  } else if (authz->starts_with("Bearer ")) {
    token = std::string(authz->substr(7));
  } else {
    return challenge(req, make_error(errc::token_invalid, "Not Authorized"));
  }
  auto who = tokens_.verify(token, now);
  if (!who) return challenge(req, who.error_value());
  req.notes.principal = who->arn;
  return std::nullopt;
}

}  // namespace berth::oci
