// The SQLite metadata backend: one connection pool (a writer and readers) shared by its roles.
#include "berth/meta/sqlite_metadata.hpp"

#include "berth/meta/migrations.hpp"
#include "sql_roles.hpp"

namespace berth::meta {

result<std::unique_ptr<metadata_store>> open_sqlite_metadata(const std::filesystem::path& db_path) {
  auto pool = connection_pool::open(db_path.string());
  if (!pool) return pool.take_error();
  {
    auto lock = (*pool)->lock_writer();
    if (auto r = migrate((*pool)->writer()); !r) return r.take_error();
  }
  return std::unique_ptr<metadata_store>(new sql_metadata<connection_pool>(std::move(pool).value()));
}

}  // namespace berth::meta
