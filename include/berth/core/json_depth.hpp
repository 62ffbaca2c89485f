// A linear pre-check of JSON nesting depth: documents nested deeper than any real manifest,
// policy or API request are refused before a recursive walk could exhaust the stack.
#pragma once

#include <cstddef>
#include <string_view>

namespace berth {

inline constexpr std::size_t max_json_depth = 64;

// Depth of '[' and '{' outside strings; stops counting past `limit`.
inline bool json_depth_within(std::string_view text, std::size_t limit = max_json_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace berth
