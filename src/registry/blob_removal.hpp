// Removing a blob's bytes without ever removing bytes a record claims (private header). Three
// steps, see meta/maintenance_index.hpp: mark the row (one holder, for a while), trash and purge
// the bytes, remove the rows. Used by garbage collection, by a commit that finds its digest held
// by a removal that died, and by recovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/core/clock.hpp"
#include "berth/core/digest.hpp"
#include "berth/meta/rows.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

class blob_removal {
 public:
  // A mark is the holder's for this long; past it, recovery may take it over.
  static constexpr std::int64_t mark_seconds = 600;

  blob_removal(registry_backends& backends, const clock& clk, std::string holder)
      : b_(backends), clock_(clk), holder_(std::move(holder)) {}

  // A recorded blob nothing references and nothing linked after `before`: true when removed.
  result<bool> remove_unreferenced(const digest& d, std::int64_t before);
  // A blob file with no record: true when removed.
  result<bool> remove_unrecorded(const digest& d);
  // Finishes one removal whose holder stopped; false when the mark is live (or gone).
  result<bool> take_over(const digest& d);
  // Finishes every abandoned removal and settles the trash: bytes whose record is gone are purged,
  // bytes whose record was never marked (a collection by an older Berth that never committed) go
  // back. Returns how many blobs it touched.
  std::size_t recover();

 private:
  result<void> carry_out(const digest& d);
  meta::deletion_claim claim() const;

  registry_backends& b_;
  const clock& clock_;
  std::string holder_;
};

}  // namespace berth
