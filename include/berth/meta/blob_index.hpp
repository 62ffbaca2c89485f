// Metadata role: which repository may read which blob. A blob becomes readable only once its bytes
// are committed to the blob store; garbage collection marks a blob before removing its bytes, and a
// commit or mount never uses a marked blob (see maintenance_index).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class blob_index {
 public:
  virtual ~blob_index() = default;

  // Size of a blob linked to the repository and not being collected, or nullopt.
  virtual result<std::optional<std::int64_t>> linked_size(const std::string& repo, const std::string& digest) = 0;
  // One step: records the blob, links it to the repository and ends the upload session, if any.
  // errc::name_unknown; errc::busy while garbage collection is removing this blob (the caller
  // commits its bytes again once the collection is over).
  virtual result<void> record(const blob_record& r) = 0;
  // Links a blob linked to `from` into `repo`; false when `from` has no such blob, or it is being
  // collected. errc::name_unknown for `repo`.
  virtual result<bool> mount(const std::string& repo, const std::string& from, const std::string& digest,
                             std::int64_t now) = 0;
  virtual result<bool> unlink(const std::string& repo, const std::string& digest) = 0;
};

}  // namespace berth::meta
