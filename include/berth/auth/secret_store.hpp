// Where the registry's own secrets live: the root access key (unless configured) and the key that
// signs login tokens and download URLs. The local backend keeps them as files in the data
// directory (mode 0600, cli/data_dir_secrets.cpp); servers sharing a registry must share them too.
#pragma once

#include <optional>
#include <string>

#include "berth/core/error.hpp"

namespace berth::auth {

class secret_store {
 public:
  virtual ~secret_store() = default;
  virtual result<std::optional<std::string>> get(const std::string& name) = 0;
  // Stores `value` unless `name` has one already, atomically (two servers starting at once agree);
  // returns the value stored now.
  virtual result<std::string> put_if_absent(const std::string& name, const std::string& value) = 0;
  // Where a secret is kept, for messages to the operator.
  virtual std::string location(const std::string& name) const = 0;
};

}  // namespace berth::auth
