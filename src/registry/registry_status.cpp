#include "berth/registry/registry_status.hpp"

#include <algorithm>

#include "berth/meta/metadata_store.hpp"
#include "berth/meta/migrations.hpp"
#include "berth/storage/blob_store.hpp"

namespace berth {

registry_status::registry_status(registry_backends backends, const clock& clk, std::chrono::seconds inventory_ttl)
    : backends_(backends), clock_(clk), ttl_(inventory_ttl) {}

readiness registry_status::check() const {
  auto version = backends_.meta.statistics().schema_version();
  if (!version) return {false, "metadata store: " + version.error_value().message};
  if (*version != meta::latest_schema_version()) {
    return {false, "metadata store: schema version " + std::to_string(*version) + ", this build needs " +
                       std::to_string(meta::latest_schema_version())};
  }
  // A digest nothing has: the store must answer "absent", not fail.
  static const digest probe(digest_algorithm::sha256, std::string(64, '0'));
  if (auto found = backends_.blobs.stat_blob(probe); !found) {
    return {false, "blob store: " + found.error_value().message};
  }
  return {true, {}};
}

result<registry_inventory> registry_status::inventory() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (cached_ && now - cached_at_ < ttl_) return *cached_;
  auto counts = backends_.meta.statistics().inventory();
  if (!counts) return counts.take_error();
  auto queues = backends_.meta.statistics().queues();
  if (!queues) return queues.take_error();
  registry_inventory inv{
      counts->repositories, counts->images, counts->tags, counts->blobs, counts->blob_bytes, counts->uploads, {}};
  const auto wall = clock_.now_seconds();
  for (const auto& q : *queues) {
    const auto overdue = q.oldest_due_at ? std::max<std::int64_t>(0, wall - *q.oldest_due_at) : 0;
    inv.queues.push_back(queue_status{q.queue, q.depth, overdue});
  }
  cached_ = inv;
  cached_at_ = now;
  return inv;
}

}  // namespace berth
