// The AWS Secrets Manager JSON API adapter (JSON 1.1, X-Amz-Target: secretsmanager.<Op>, SigV4
// with service secretsmanager) for the subset pull-through cache credentials need: CreateSecret,
// GetSecretValue, PutSecretValue, DescribeSecret, ListSecrets, DeleteSecret. Rules are the domain's
// (secret_vault); this translates shapes and errors as botocore parses them.
#pragma once

#include <memory>
#include <string>

#include "berth/auth/sigv4.hpp"
#include "berth/core/clock.hpp"
#include "berth/http/message.hpp"
#include "berth/registry/access_control.hpp"
#include "berth/registry/secret_vault.hpp"

namespace berth::secrets {

struct secrets_settings {
  std::string region = "us-east-1";
  bool auth_enabled = true;
  std::size_t max_body = 1024 * 1024;  // a 64 KiB secret, base64 in JSON, with room to spare
};

class secrets_api {
 public:
  // `access` null: auth none, every caller may do everything.
  secrets_api(secret_vault& vault, const access_control* access, const auth::credential_source& credentials,
              const clock& clk, secrets_settings settings);

  http::response handle(const http::request& req) const;
  std::unique_ptr<http::exchange> exchange() const;

 private:
  secret_vault& vault_;
  const access_control* access_;
  const clock& clock_;
  secrets_settings settings_;
  auth::sigv4_verifier verifier_;
};

// Whether a request is for this API: POST / with X-Amz-Target secretsmanager.<Op>.
bool is_secrets_request(const http::request& head);

}  // namespace berth::secrets
