#include "berth/observability/maintenance_metrics.hpp"

namespace berth::observability {

void maintenance_metrics::record(const std::string& job, std::chrono::duration<double> took, std::uint64_t items,
                                 std::uint64_t bytes, std::int64_t at) {
  std::lock_guard lock(mutex_);
  auto& t = jobs_[job];
  ++t.runs;
  t.seconds += took.count();
  t.items += items;
  t.bytes += bytes;
  t.last = at;
}

void maintenance_metrics::write(exposition& out) const {
  std::lock_guard lock(mutex_);
  out.family("berth_maintenance_runs_total", "counter", "Maintenance runs this server did, by job.");
  for (const auto& [job, t] : jobs_) out.sample("berth_maintenance_runs_total", {{"job", job}}, t.runs);
  out.family("berth_maintenance_run_seconds_total", "counter", "Time spent in maintenance runs, by job.");
  for (const auto& [job, t] : jobs_) out.sample("berth_maintenance_run_seconds_total", {{"job", job}}, t.seconds);
  out.family("berth_maintenance_items_removed_total", "counter",
             "Items maintenance removed, by job (gc: blobs and images; lifecycle: images; upload-expiry: uploads).");
  for (const auto& [job, t] : jobs_) out.sample("berth_maintenance_items_removed_total", {{"job", job}}, t.items);
  out.family("berth_maintenance_bytes_freed_total", "counter", "Blob bytes garbage collection freed.");
  for (const auto& [job, t] : jobs_) out.sample("berth_maintenance_bytes_freed_total", {{"job", job}}, t.bytes);
  out.family("berth_maintenance_last_run_timestamp_seconds", "gauge",
             "When each job last finished on this server (0: not yet).");
  for (const auto& [job, t] : jobs_) {
    out.sample("berth_maintenance_last_run_timestamp_seconds", {{"job", job}}, t.last);
  }
}

}  // namespace berth::observability
