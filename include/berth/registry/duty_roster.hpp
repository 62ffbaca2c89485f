// Duties one process does at a time however many servers share the metadata (garbage collection,
// lifecycle runs, upload expiry): each runs under a lease, renewed by its holder every time it
// runs. Correctness never depends on it (two collections at once are safe); it saves the work.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "berth/core/clock.hpp"

namespace berth {

namespace meta {
class lease_index;
}

class duty_roster {
 public:
  duty_roster(meta::lease_index& leases, const clock& clk, std::string holder)
      : leases_(leases), clock_(clk), holder_(std::move(holder)) {}

  // Runs `duty` when this process holds, or can take, the lease `name` (for `lease_seconds`, which
  // should outlast the interval between runs so the holder keeps it). Returns whether it ran.
  bool run(const std::string& name, std::int64_t lease_seconds, const std::function<void()>& duty);
  const std::string& holder() const { return holder_; }
  // At shutdown: another server may take the duties over at once.
  void release_all();

 private:
  meta::lease_index& leases_;
  const clock& clock_;
  std::string holder_;
  std::mutex mutex_;
  std::set<std::string> held_;
};

}  // namespace berth
