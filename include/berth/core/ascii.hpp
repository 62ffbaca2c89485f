// ASCII case folding for protocol text (header names, policy keys): locale-free, byte by byte.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace berth {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace berth
