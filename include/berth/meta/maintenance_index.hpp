// Metadata role: garbage collection, its crash recovery, fsck and usage.
//
// Removing a blob is three steps, each one transaction: begin_delete marks the row for one holder
// (only while nothing references the blob and nothing linked it after the grace period), the
// holder has the blob store remove the bytes, finish_delete removes the rows. A marked blob is
// invisible to readers, and a commit (blob_index::record) or mount of it waits until the removal is
// over, so bytes are never removed under a record that claims them. Only the holder acts on its
// mark; a mark whose holder died (its `until` passed) is taken over by recovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class maintenance_index {
 public:
  virtual ~maintenance_index() = default;

  // Recorded blobs nothing references, recorded at or before `before` and not linked after it,
  // ordered by digest, strictly after `after`.
  virtual result<std::vector<blob_row>> unreferenced_blobs(std::int64_t before, const std::string& after,
                                                           std::size_t limit) = 0;
  // Marks the blob for deletion by `by` if it is still unreferenced and not linked after `before`.
  virtual result<bool> begin_delete(const std::string& digest, std::int64_t before, const deletion_claim& by) = 0;
  // Marks the digest of a blob file with no record (left by a crash between a commit's two steps),
  // if it is still unrecorded.
  virtual result<bool> begin_delete_unrecorded(const std::string& digest, const deletion_claim& by) = 0;
  // Takes over a mark whose holder stopped before finishing (its `until` has passed).
  virtual result<bool> take_over_delete(const std::string& digest, const deletion_claim& by) = 0;
  // Removes the rows of a blob `holder` marked; nothing when the mark is not theirs.
  virtual result<void> finish_delete(const std::string& digest, const std::string& holder) = 0;
  // Marks whose holder stopped before finishing (expired at `now`).
  virtual result<std::vector<std::string>> abandoned_deletions(std::int64_t now) = 0;

  virtual result<std::optional<blob_row>> find_blob(const std::string& digest) = 0;
  // Every recorded blob, by digest, strictly after `after`.
  virtual result<std::vector<blob_row>> blobs(const std::string& after, std::size_t limit) = 0;
  // Every manifest reference, ordered by (repository, manifest, child, kind), strictly after `after`.
  virtual result<std::vector<reference_row>> references(const reference_row& after, std::size_t limit) = 0;
  virtual result<std::vector<usage_row>> usage(const std::string& after, std::size_t limit) = 0;
};

}  // namespace berth::meta
