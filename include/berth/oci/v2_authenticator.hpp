// Authentication on the V2 side, as ECR does it: HTTP Basic with user "AWS" and a login token
// (Bearer with the same token is accepted too), plus the time-limited blob URLs that
// GetDownloadUrlForLayer hands out.
#pragma once

#include <optional>
#include <string>

#include "berth/auth/login_token.hpp"
#include "berth/http/message.hpp"
#include "berth/oci/path_router.hpp"
#include "berth/core/clock.hpp"

namespace berth::oci {

class v2_authenticator {
 public:
  v2_authenticator(const auth::login_token_issuer& tokens, const auth::blob_url_signer& urls, const clock& clk,
                   std::string scheme)
      : tokens_(tokens), urls_(urls), clock_(clk), scheme_(std::move(scheme)) {}

  // nullopt: the request may proceed; otherwise the 401/403 to send.
  std::optional<http::response> check(const http::request& req, const v2_route& route) const;

 private:
  http::response challenge(const http::request& req, const error& e) const;
  const auth::login_token_issuer& tokens_;
  const auth::blob_url_signer& urls_;
  const clock& clock_;
  std::string scheme_;
};

}  // namespace berth::oci
