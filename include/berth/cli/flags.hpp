// Command-line flags of the subcommands: --name value, --name=value, and boolean --name.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "berth/config/config.hpp"
#include "berth/core/error.hpp"

namespace berth::cli {

struct parsed_flags {
  config::flag_map values;  // booleans map to "true"
  bool help = false;
};

result<parsed_flags> parse_flags(const std::vector<std::string>& args, std::initializer_list<const char*> valued,
                                 std::initializer_list<const char*> booleans, const std::string& command);

}  // namespace berth::cli
