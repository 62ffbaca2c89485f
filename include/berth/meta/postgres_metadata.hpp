// The metadata roles on PostgreSQL: what N servers share (see docs/scale-out.md).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "berth/meta/metadata_store.hpp"

namespace berth::meta {

struct postgres_options {
  std::string dsn;                   // libpq connection string or URI
  std::size_t max_connections = 16;  // per server
};

// Connects, migrates the schema once across the fleet (an advisory lock) and refuses a schema
// newer than this berth knows. errc::unavailable while the database cannot be reached.
result<std::unique_ptr<metadata_store>> open_postgres_metadata(const postgres_options& o);

}  // namespace berth::meta
