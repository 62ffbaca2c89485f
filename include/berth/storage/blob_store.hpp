// Blob store role: committed, content-addressed blobs. Which repository may read a blob is
// metadata (meta/blob_index), not the store's business. Every store passes the suite in
// tests/unit/blob_store_suite.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/core/byte_source.hpp"
#include "berth/core/digest.hpp"

namespace berth::storage {

class blob_store {
 public:
  virtual ~blob_store() = default;

  // errc::blob_unknown when absent.
  virtual result<std::shared_ptr<blob_content>> open_blob(const digest& d) = 0;
  // The blob's size, or nullopt when absent.
  virtual result<std::optional<std::uint64_t>> stat_blob(const digest& d) = 0;
  // Every blob with the time (seconds) its bytes were last written, for fsck and orphan sweeps.
  virtual std::vector<std::pair<digest, std::int64_t>> list_blobs() = 0;

  // Garbage collection removes bytes in two steps: trash (undone by restore) and purge, so a crash
  // in between can be finished or undone at start-up (trashed_blobs).
  virtual result<void> trash_blob(const digest& d) = 0;
  virtual result<void> restore_blob(const digest& d) = 0;
  virtual void purge_blob(const digest& d) = 0;
  virtual std::vector<digest> trashed_blobs() = 0;
  // fsck --repair: moves a corrupt blob aside (never deletes it); returns where it went.
  virtual result<std::string> quarantine_blob(const digest& d) = 0;
};

}  // namespace berth::storage
