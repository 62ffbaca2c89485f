// Metadata role: the registry's own secrets (the generated root key, the key that signs login
// tokens and download URLs) where servers share the database, so a token one server issues is
// valid on every other. One value per name: the first writer's.
#pragma once

#include <optional>
#include <string>

#include "berth/core/error.hpp"

namespace berth::meta {

class secret_index {
 public:
  virtual ~secret_index() = default;

  virtual result<std::optional<std::string>> get(const std::string& name) = 0;
  // Stores `value` unless `name` has one; returns the value stored now (two servers starting at
  // once agree on one).
  virtual result<std::string> put_if_absent(const std::string& name, const std::string& value, std::int64_t now) = 0;
};

}  // namespace berth::meta
