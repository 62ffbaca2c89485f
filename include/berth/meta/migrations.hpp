// Versioned schema migrations for the metadata database: one history for both dialects. Append
// only: never edit a shipped step. The steps are written in SQLite's dialect; PostgreSQL receives
// them translated (pg_ddl): 64-bit integers, BYTEA, byte-wise ("C") text ordering as SQLite's.
#pragma once

#include <string>
#include <string_view>

#include "berth/meta/pg_connection.hpp"
#include "berth/meta/sqlite_connection.hpp"

namespace berth::meta {

int latest_schema_version();
result<void> migrate(sqlite_connection& db);
// Under a PostgreSQL advisory lock: several servers starting at once migrate once.
result<void> migrate(pg_connection& db);
std::string pg_ddl(std::string_view sqlite_ddl);

}  // namespace berth::meta
