// The blobs of a backup: every blob a metadata snapshot records is copied into a blob archive,
// unless the archive has it already (backups are incremental: a blob, named by its digest, never
// changes). Each copy is verified against its digest as it is written. Used by `berth backup` (from
// the serving registry's blob store) and `berth restore` (from the backup's archive into a new
// data directory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "berth/core/byte_source.hpp"
#include "berth/core/digest.hpp"
#include "berth/core/work_progress.hpp"
#include "berth/meta/maintenance_index.hpp"
#include "berth/storage/blob_archive.hpp"
#include "berth/storage/blob_store.hpp"

namespace berth {

struct blob_copy_report {
  std::uint64_t blobs = 0;  // recorded in the snapshot
  std::uint64_t bytes = 0;
  std::uint64_t blobs_copied = 0;  // the rest were in the archive already
  std::uint64_t bytes_copied = 0;
  std::vector<std::string> problems;  // one line each; a backup with problems is not complete
  // Recorded blobs the source no longer has (errc::blob_unknown): on a serving registry, garbage
  // collection may remove a blob no manifest references after the snapshot was taken.
  std::vector<std::string> vanished;
};

// Where the blobs come from: their bytes, in order (errc::blob_unknown when absent).
using blob_opener = std::function<result<std::unique_ptr<byte_reader>>(const digest&)>;
blob_opener open_from(storage::blob_store& store);
blob_opener open_from(const storage::blob_archive& archive);

// Progress counts blobs, and bytes copied or found in the archive already.
blob_copy_report copy_recorded_blobs(meta::maintenance_index& snapshot, const blob_opener& from,
                                     storage::blob_archive& to, const progress_listener& progress = {});

}  // namespace berth
