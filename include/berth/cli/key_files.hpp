// Secrets kept in the data directory, created on first start with mode 0600: the root access key
// (unless configured) and the key that signs login tokens and download URLs.
#pragma once

#include <filesystem>
#include <string>

#include "berth/config/config.hpp"
#include "berth/core/error.hpp"

namespace berth::cli {

struct root_key {
  config::user_credentials credentials;
  bool generated = false;  // not yet on disk: save_root_key, then print it once
};

// The stored root key, or a new one in memory (saved only once the server is sure to start).
result<root_key> load_or_generate_root_key(const std::filesystem::path& data_dir);
result<void> save_root_key(const std::filesystem::path& data_dir, const config::user_credentials& c);
result<std::string> load_or_create_signing_key(const std::filesystem::path& data_dir);

}  // namespace berth::cli
