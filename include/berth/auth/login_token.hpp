// ECR-style login tokens: what GetAuthorizationToken hands out and `docker login -u AWS` presents.
// A token names its principal and expiry and carries an HMAC-SHA256 over both with a key kept in
// the data directory, so it survives restarts and cannot be forged or extended. It never contains
// ':' (the CLI splits "AWS:<token>" on the first colon).
#pragma once

#include <cstdint>
#include <string>

#include "berth/auth/identity.hpp"
#include "berth/core/error.hpp"

namespace berth::auth {

inline constexpr std::int64_t login_token_lifetime_seconds = 12 * 3600;  // ECR's; auth.token_lifetime_seconds

struct issued_token {
  std::string token;
  std::int64_t expires_at = 0;
};

class login_token_issuer {
 public:
  // `key` is the raw HMAC key (32 random bytes).
  login_token_issuer(std::string key, const credential_source& credentials,
                     std::int64_t lifetime_seconds = login_token_lifetime_seconds)
      : key_(std::move(key)), credentials_(credentials), lifetime_(lifetime_seconds) {}

  issued_token issue(const identity& who, std::int64_t now) const;
  // token_invalid (forged, malformed, principal gone) or token_expired.
  result<identity> verify(const std::string& token, std::int64_t now) const;

 private:
  std::string key_;
  const credential_source& credentials_;
  std::int64_t lifetime_;
};

// Time-limited blob URLs (GetDownloadUrlForLayer): an HMAC over repository, digest and expiry.
class blob_url_signer {
 public:
  explicit blob_url_signer(std::string key) : key_(std::move(key)) {}
  std::string signature(const std::string& repo, const std::string& digest, std::int64_t expires) const;
  bool verify(const std::string& repo, const std::string& digest, std::int64_t expires, const std::string& signature,
              std::int64_t now) const;

 private:
  std::string key_;
};

std::string base64_encode(std::string_view data, bool url_safe = false);
// Accepts standard and URL-safe alphabets, padding optional; nullopt-like error on bad input.
result<std::string> base64_decode(std::string_view text);

}  // namespace berth::auth
