// The metadata roles on SQLite (WAL): the embedded default, one file under the data directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "berth/meta/metadata_store.hpp"

namespace berth::meta {

// Opens (creating and migrating) the database; errc::internal names what failed.
result<std::unique_ptr<metadata_store>> open_sqlite_metadata(const std::filesystem::path& db_path);

// A consistent copy of the database at `db_path` as it is now (SQLite's online backup API, in one
// read transaction: a server may keep writing), written to `out` (replaced; fsync'd). The copy
// keeps nothing that belongs to the running processes: upload sessions (their bytes are not part
// of a backup), duty leases, and the holds workers have on queued work.
result<void> snapshot_sqlite_database(const std::filesystem::path& db_path, const std::filesystem::path& out);
// Removes from a snapshot the records of blobs no manifest references (garbage collection took
// their bytes while the backup ran); false when one of them is referenced after all.
result<bool> forget_unreferenced_blobs(const std::filesystem::path& snapshot, const std::vector<std::string>& digests);

}  // namespace berth::meta
