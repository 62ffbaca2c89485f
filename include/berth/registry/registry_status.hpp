// What operators ask of a running registry: is it ready to serve (its metadata store and blob store
// answer, its schema is the one this build knows), what does it hold, and how far behind are its
// background queues. Read by the health and metrics endpoints; the counts are cached briefly,
// since each is a scan of the metadata.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct readiness {
  bool ready = false;
  std::string failing;  // the part that is not ready, and why ("metadata store: ...")
};

struct queue_status {
  std::string queue;
  std::int64_t depth = 0;
  std::int64_t overdue_seconds = 0;  // how long past its due time the longest-waiting item is
};

struct registry_inventory {
  std::int64_t repositories = 0;
  std::int64_t images = 0;
  std::int64_t tags = 0;
  std::int64_t blobs = 0;
  std::int64_t blob_bytes = 0;
  std::int64_t uploads = 0;
  std::vector<queue_status> queues;
};

class registry_status {
 public:
  registry_status(registry_backends backends, const clock& clk, std::chrono::seconds inventory_ttl);

  readiness check() const;
  // The counts, at most `inventory_ttl` old.
  result<registry_inventory> inventory();

 private:
  registry_backends backends_;
  const clock& clock_;
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::optional<registry_inventory> cached_;
  std::chrono::steady_clock::time_point cached_at_;
};

}  // namespace berth
