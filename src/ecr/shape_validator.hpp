// Validates a JSON API request against botocore's ECR model: required members, types, lengths,
// ranges, patterns and enums — botocore checks only some of these on the client, so the server
// enforces them all, in ECR's wording.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "berth/core/error.hpp"

namespace berth::ecr {

class shape_validator {
 public:
  // The embedded model (src/ecr/ecr_model.inc), parsed once.
  static const shape_validator& instance();

  // The input shape of an operation; "" when it takes none; nullopt-equivalent false when unknown.
  bool has_operation(const std::string& op) const;
  // errc::invalid_parameter (constraint) or errc::serialization (wrong JSON type) with ECR's message.
  result<void> validate(const std::string& op, const nlohmann::json& input) const;

 private:
  shape_validator();
  result<void> check(const std::string& shape, const nlohmann::json& v, const std::string& path) const;
  nlohmann::json model_;
};

}  // namespace berth::ecr
