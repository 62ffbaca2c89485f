// The PostgreSQL metadata backend: the same roles as SQLite's on a bounded pool of connections.
#include "berth/meta/postgres_metadata.hpp"

#include "berth/meta/migrations.hpp"
#include "sql_roles.hpp"

namespace berth::meta {

result<std::unique_ptr<metadata_store>> open_postgres_metadata(const postgres_options& o) {
  pg_pool::options po;
  po.dsn = o.dsn;
  po.max_connections = o.max_connections;
  auto pool = pg_pool::open(po);
  if (!pool) return pool.take_error();
  {
    auto c = (*pool)->acquire();
    if (!c) return c.take_error();
    if (auto r = migrate(**c); !r) return r.take_error();
  }
  return std::unique_ptr<metadata_store>(new sql_metadata<pg_pool>(std::move(pool).value()));
}

}  // namespace berth::meta
