// Metadata role: leases, so a duty (garbage collection, lifecycle runs, upload expiry, recovery)
// runs in one process at a time however many servers share the metadata.
#pragma once

#include <cstdint>
#include <string>

#include "berth/core/error.hpp"

namespace berth::meta {

class lease_index {
 public:
  virtual ~lease_index() = default;

  // Takes the lease for `holder` until `until`, or renews it; false while another holder's lease
  // has not expired at `now`.
  virtual result<bool> acquire(const std::string& name, const std::string& holder, std::int64_t now,
                               std::int64_t until) = 0;
  virtual result<void> release(const std::string& name, const std::string& holder) = 0;
};

}  // namespace berth::meta
