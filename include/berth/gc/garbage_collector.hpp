// Online garbage collection: removes blobs nothing references (and, by policy, untagged images)
// while pushes and pulls go on. See docs/garbage-collection.md for why it is safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "berth/registry/registry.hpp"

namespace berth::gc {

struct gc_options {
  std::int64_t grace_seconds = 24 * 3600;  // nothing younger than this is touched
  bool delete_untagged = false;            // ECR keeps untagged images until a lifecycle rule expires them
  bool dry_run = false;
};

struct gc_report {
  std::vector<std::string> images;  // "repo@digest" of untagged images removed
  std::vector<std::string> blobs;   // digests removed
  std::uint64_t bytes = 0;
  std::size_t orphan_files = 0;     // blob files with no record (crash debris)
};

class garbage_collector {
 public:
  explicit garbage_collector(registry& reg) : reg_(reg) {}
  gc_report collect(const gc_options& options);

 private:
  registry& reg_;
};

}  // namespace berth::gc
