// The metadata roles on SQLite (WAL): the embedded default, one file under the data directory.
#pragma once

#include <filesystem>
#include <memory>

#include "berth/meta/metadata_store.hpp"

namespace berth::meta {

// Opens (creating and migrating) the database; errc::internal names what failed.
result<std::unique_ptr<metadata_store>> open_sqlite_metadata(const std::filesystem::path& db_path);

}  // namespace berth::meta
