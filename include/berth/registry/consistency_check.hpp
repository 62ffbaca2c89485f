// berth fsck: verifies that every blob's bytes match its digest and every metadata reference
// resolves; with repair, moves corrupt blobs to the quarantine (never deletes them).
#pragma once

#include <string>
#include <vector>

#include "berth/core/work_progress.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct fsck_report {
  std::size_t blobs_checked = 0;
  std::size_t references_checked = 0;
  std::vector<std::string> problems;     // one line each
  std::vector<std::string> quarantined;  // where they went, with repair
};

// Progress counts blobs and the bytes read (references follow, quickly).
fsck_report check_consistency(registry_backends backends, bool repair, const progress_listener& progress = {});

// `berth usage`: per repository, images, tags and the bytes of the distinct blobs its manifests
// reference (a blob shared by repositories counts in each; it is stored once).
struct repository_usage {
  std::string repository;
  std::int64_t images = 0;
  std::int64_t tags = 0;
  std::int64_t referenced_bytes = 0;
};
result<std::vector<repository_usage>> storage_usage(registry_backends backends);

}  // namespace berth
