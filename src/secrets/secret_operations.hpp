// The Secrets Manager operations Berth implements: JSON in, JSON out, domain errors as values
// (private header).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "berth/registry/secret_vault.hpp"

namespace berth::secrets {

using json = nlohmann::json;
using operation = result<json> (*)(secret_vault&, const json&);

// Name → implementation.
const std::map<std::string, operation>& operation_table();

}  // namespace berth::secrets
