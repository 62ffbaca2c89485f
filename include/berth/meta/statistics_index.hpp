// Metadata role: what the registry holds and how far behind its background queues are, for
// metrics and readiness. Counts are read on demand (callers cache them: each is a scan).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::meta {

struct inventory_row {
  std::int64_t repositories = 0;
  std::int64_t images = 0;  // manifests, indexes included
  std::int64_t tags = 0;
  std::int64_t blobs = 0;
  std::int64_t blob_bytes = 0;
  std::int64_t uploads = 0;  // upload sessions in progress
};

// One durable queue: how many items wait, and when the longest-waiting one was due.
struct queue_row {
  std::string queue;
  std::int64_t depth = 0;
  std::optional<std::int64_t> oldest_due_at;
};

class statistics_index {
 public:
  virtual ~statistics_index() = default;

  virtual result<inventory_row> inventory() = 0;
  // Every queue, named as the metrics name them ("replication", "pull-through-import",
  // "events"), in that order.
  virtual result<std::vector<queue_row>> queues() = 0;
  // The newest migration applied (readiness: a server must not serve a schema it does not know).
  virtual result<int> schema_version() = 0;
};

}  // namespace berth::meta
