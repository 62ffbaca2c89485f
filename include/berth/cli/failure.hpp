// How a subcommand reports a failure: one line on stderr, exit status 1.
#pragma once

#include <cstdio>
#include <string>

namespace berth::cli {

inline int fail(const std::string& message) {
  std::fprintf(stderr, "berth: %s\n", message.c_str());
  return 1;
}

}  // namespace berth::cli
