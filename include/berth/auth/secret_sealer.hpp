// Access key secrets at rest: SigV4 needs the secret itself (the signing key is derived from it
// per day, region and service), so it cannot be stored as a hash. It is sealed instead with
// AES-256-GCM under a key that lives outside the metadata database (the data directory's
// access-key-encryption.key; docs/security.md has the threat model), bound to its access key id:
// a sealed secret copied onto another key's row does not open.
#pragma once

#include <string>
#include <string_view>

#include "berth/core/error.hpp"

namespace berth::auth {

class secret_sealer {
 public:
  // `key`: 32 random bytes.
  explicit secret_sealer(std::string key) : key_(std::move(key)) {}
  // "v1." + base64url(nonce ‖ ciphertext ‖ tag).
  std::string seal(std::string_view plaintext, std::string_view bound_to) const;
  // errc::internal when the text was not sealed by this key for `bound_to`, or was altered.
  result<std::string> open(std::string_view sealed, std::string_view bound_to) const;

 private:
  std::string key_;
};

}  // namespace berth::auth
