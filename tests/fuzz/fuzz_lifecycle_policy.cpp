// The lifecycle policy parser and, for valid policies, the evaluator.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "berth/lifecycle/lifecycle_policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto p = berth::lifecycle::parse_policy(text);
  if (!p) return 0;
  std::vector<berth::lifecycle::image> images = {
      {"a", {"prod-1", "beta-1"}, 1000, 0, 0, false},
      {"b", {}, 2000, 1500, 0, false},
      {"c", {"v1.0-rc1"}, 3000, 0, 2500, true},
      {"d", {"latest"}, 4000, 3900, 0, false},
  };
  auto decisions = berth::lifecycle::evaluate(*p, images, 1'000'000);
  std::set<std::string> once;
  for (const auto& d : decisions) {
    if (!once.insert(d.digest).second) __builtin_trap();  // at most one action per image
  }
  return 0;
}
