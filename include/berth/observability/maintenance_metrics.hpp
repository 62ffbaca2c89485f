// Counts of the background maintenance this server ran (garbage collection, lifecycle policies,
// upload expiry): runs, time spent, items removed, bytes freed, and when each last ran. Per
// process: in a fleet each server reports the runs it did (a lease picks one server per run).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "berth/observability/exposition.hpp"

namespace berth::observability {

class maintenance_metrics {
 public:
  // `job` is "gc", "lifecycle" or "upload-expiry"; `at` the end of the run (seconds since the epoch).
  void record(const std::string& job, std::chrono::duration<double> took, std::uint64_t items, std::uint64_t bytes,
              std::int64_t at);
  void write(exposition& out) const;

 private:
  struct totals {
    std::uint64_t runs = 0;
    double seconds = 0;
    std::uint64_t items = 0;
    std::uint64_t bytes = 0;
    std::int64_t last = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, totals> jobs_{{"gc", {}}, {"lifecycle", {}}, {"upload-expiry", {}}};
};

}  // namespace berth::observability
