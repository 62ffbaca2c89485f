// The AWS Query API adapter for IAM (Version 2010-05-08) and STS (2011-06-15): POST / with a
// form-encoded body (Action=…), SigV4 with service iam or sts (any region), XML responses and
// <ErrorResponse> errors as botocore parses them. Identities are managed through the domain's
// identity_directory; only root, the configured users and users allowed iam:<Action> may.
#pragma once

#include <memory>
#include <string>

#include "berth/auth/identity.hpp"
#include "berth/auth/sigv4.hpp"
#include "berth/core/clock.hpp"
#include "berth/http/message.hpp"
#include "berth/registry/access_control.hpp"
#include "berth/registry/identity_directory.hpp"

namespace berth::iam {

struct query_settings {
  std::string account_id = "000000000000";
  std::size_t max_body = 1024 * 1024;  // a 128 KiB policy document, percent-encoded
};

class query_api {
 public:
  query_api(identity_directory& directory, const access_control& access, const auth::credential_source& credentials,
            const clock& clk, query_settings settings);

  http::response handle(const http::request& req) const;
  std::unique_ptr<http::exchange> exchange() const;

 private:
  identity_directory& directory_;
  const access_control& access_;
  const clock& clock_;
  query_settings settings_;
  auth::sigv4_verifier iam_verifier_;
  auth::sigv4_verifier sts_verifier_;
};

// Whether a request is for this API: POST / with a form body and no X-Amz-Target.
bool is_query_request(const http::request& head);

}  // namespace berth::iam
