// The registry's own keys, in a secret store: the root access key (unless configured) and the key
// that signs login tokens and download URLs. The data directory's store keeps them as files.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "berth/auth/secret_store.hpp"
#include "berth/config/config.hpp"
#include "berth/core/error.hpp"
#include "berth/meta/secret_index.hpp"

namespace berth::cli {

// Secrets as files in the data directory, created with mode 0600, written whole (fsync, then a
// link that fails if another process got there first).
std::unique_ptr<auth::secret_store> data_dir_secrets(const std::filesystem::path& data_dir);
// Secrets in the metadata database, for servers that share it: a token one issues is valid on all.
std::unique_ptr<auth::secret_store> database_secrets(meta::secret_index& secrets);

inline constexpr const char* root_credentials_secret = "root-credentials";
inline constexpr const char* signing_key_secret = "token-signing-key";
// Seals IAM users' access key secrets in the metadata (auth/secret_sealer.hpp).
inline constexpr const char* sealing_key_secret = "access-key-encryption-key";

struct root_key {
  config::user_credentials credentials;
  bool generated = false;  // not yet stored: save_root_key, then print it once
};

// The stored root key, or a new one in memory (stored only once the server is sure to start).
result<root_key> load_or_generate_root_key(auth::secret_store& secrets);
// The root key now stored (another server's, if one stored its own first).
result<config::user_credentials> save_root_key(auth::secret_store& secrets, const config::user_credentials& c);
result<std::string> load_or_create_signing_key(auth::secret_store& secrets);
result<std::string> load_or_create_sealing_key(auth::secret_store& secrets);

}  // namespace berth::cli
