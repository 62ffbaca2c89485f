// Versioned schema migrations for the SQLite metadata index. Append only: never edit a shipped step.
#pragma once

#include "berth/meta/sqlite_connection.hpp"

namespace berth::meta {

int latest_schema_version();
result<void> migrate(sqlite_connection& db);

}  // namespace berth::meta
