// berth fsck: verifies that every blob's bytes match its digest and every metadata reference
// resolves; with repair, moves corrupt blobs to the quarantine (never deletes them).
#pragma once

#include <string>
#include <vector>

#include "berth/registry/registry.hpp"

namespace berth::gc {

struct fsck_report {
  std::size_t blobs_checked = 0;
  std::size_t references_checked = 0;
  std::vector<std::string> problems;     // one line each
  std::vector<std::string> quarantined;  // paths, with repair
};

fsck_report check_consistency(registry& reg, bool repair);

}  // namespace berth::gc
