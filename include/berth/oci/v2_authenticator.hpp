// Authentication on the V2 side, as ECR does it: HTTP Basic with user "AWS" and a login token
// (Bearer with the same token is accepted too), plus the time-limited blob URLs that
// GetDownloadUrlForLayer hands out. Two additions of Berth's, both opt-in: HTTP Basic with an
// access key id and secret for users with long-lived pull credentials, and anonymous pulls of
// repositories whose policy allows Principal "*".
#pragma once

#include <optional>
#include <string>

#include "berth/auth/login_token.hpp"
#include "berth/core/clock.hpp"
#include "berth/http/message.hpp"
#include "berth/oci/path_router.hpp"
#include "berth/registry/access_control.hpp"

namespace berth::oci {

class v2_authenticator {
 public:
  v2_authenticator(const auth::login_token_issuer& tokens, const auth::blob_url_signer& urls, const clock& clk,
                   std::string scheme, const auth::credential_source* keys = nullptr,
                   const access_control* anonymous_pull = nullptr)
      : tokens_(tokens),
        urls_(urls),
        clock_(clk),
        scheme_(std::move(scheme)),
        keys_(keys),
        anonymous_pull_(anonymous_pull) {}

  // nullopt: the request may proceed as `who` (a download URL proves its own grant: full access to
  // that blob; an anonymous pull has no ARN); otherwise the 401/403 to send.
  std::optional<http::response> check(const http::request& req, const v2_route& route, auth::identity& who) const;

 private:
  http::response challenge(const http::request& req, const error& e) const;
  const auth::login_token_issuer& tokens_;
  const auth::blob_url_signer& urls_;
  const clock& clock_;
  std::string scheme_;
  const auth::credential_source* keys_;   // Basic key id : secret (users with basic_pull)
  const access_control* anonymous_pull_;  // null: no anonymous pulls
};

}  // namespace berth::oci
