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

// --output text (for people, the default) or json (one document on stdout, for scripts).
result<bool> json_wanted(const config::flag_map& flags);

}  // namespace berth::cli
