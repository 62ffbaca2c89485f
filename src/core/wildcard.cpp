#include "berth/core/wildcard.hpp"

#include <cctype>

namespace berth {

bool wildcard_match(std::string_view p, std::string_view t) { return glob_match(p, t, false, false, nullptr); }

bool glob_match(std::string_view p, std::string_view t, bool question_mark, bool ignore_case,
                const std::vector<bool>* literal) {
  auto is_literal = [&](std::size_t i) { return literal != nullptr && i < literal->size() && (*literal)[i]; };
  auto same = [&](char a, char b) {
    return ignore_case ? std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b))
                       : a == b;
  };
  // Iterative glob with backtracking to the last '*': O(|p|·|t|) at worst, no recursion.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*' && !is_literal(pi)) {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && ((question_mark && p[pi] == '?' && !is_literal(pi)) || same(p[pi], t[ti]))) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*' && !is_literal(pi)) ++pi;
  return pi == p.size();
}

}  // namespace berth
