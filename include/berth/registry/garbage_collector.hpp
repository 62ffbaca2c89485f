// Online garbage collection: removes blobs nothing references (and, by policy, untagged images)
// while pushes and pulls go on, on any backend. See docs/garbage-collection.md for why it is safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "berth/registry/registry.hpp"

namespace berth {

struct gc_options {
  std::int64_t grace_seconds = 24 * 3600;  // nothing younger than this is touched
  bool delete_untagged = false;            // ECR keeps untagged images until a lifecycle rule expires them
  bool dry_run = false;
  // Asked between items; true ends the run there (shutdown). A run stopped midway is safe: every
  // removal is whole, and the next run carries on.
  std::function<bool()> interrupted = {};
};

struct gc_report {
  std::vector<std::string> images;  // "repo@digest" of untagged images removed
  std::vector<std::string> blobs;   // digests removed
  std::uint64_t bytes = 0;
  std::size_t orphan_files = 0;  // blob files with no record (crash debris)
};

class garbage_collector {
 public:
  garbage_collector(registry& reg, registry_backends backends);
  gc_report collect(const gc_options& options);

 private:
  void collect_untagged(const gc_options& options, std::int64_t before, gc_report& report);
  registry& reg_;
  registry_backends backends_;
  std::string holder_;  // this collector, in the marks it puts on blobs it removes
};

}  // namespace berth
