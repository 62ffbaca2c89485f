// Registry counts and queue depths in SQL (SQLite and PostgreSQL).
#include "sql_roles.hpp"

namespace berth::meta {

template <class Pool>
result<inventory_row> sql_statistics_index<Pool>::inventory() {
  return pool_.read([&](auto& db) -> result<inventory_row> {
    auto row = db.one(
        "SELECT (SELECT COUNT(*) FROM repositories), (SELECT COUNT(*) FROM manifests), (SELECT COUNT(*) FROM tags), "
        "(SELECT COUNT(*) FROM blobs), (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs), "
        "(SELECT COUNT(*) FROM uploads)",
        [](const auto& s) {
          return inventory_row{s.int64(0), s.int64(1), s.int64(2), s.int64(3), s.int64(4), s.int64(5)};
        });
    if (!row) return row.take_error();
    return row->value_or(inventory_row{});
  });
}

template <class Pool>
result<std::vector<queue_row>> sql_statistics_index<Pool>::queues() {
  return pool_.read([&](auto& db) -> result<std::vector<queue_row>> {
    auto read = [](const auto& s) {
      queue_row q;
      q.depth = s.int64(0);
      if (!s.is_null(1)) q.oldest_due_at = s.int64(1);
      return q;
    };
    std::vector<queue_row> out;
    auto replication = db.one("SELECT COUNT(*), MIN(next_at) FROM replication_jobs WHERE status = 'IN_PROGRESS'", read);
    if (!replication) return replication.take_error();
    out.push_back(replication->value_or(queue_row{}));
    out.back().queue = "replication";
    auto imports = db.one("SELECT COUNT(*), MIN(next_at) FROM cache_imports", read);
    if (!imports) return imports.take_error();
    out.push_back(imports->value_or(queue_row{}));
    out.back().queue = "pull-through-import";
    auto events = db.one("SELECT COUNT(*), MIN(created_at) FROM event_outbox", read);
    if (!events) return events.take_error();
    out.push_back(events->value_or(queue_row{}));
    out.back().queue = "events";
    return out;
  });
}

template <class Pool>
result<int> sql_statistics_index<Pool>::schema_version() {
  return pool_.read([&](auto& db) -> result<int> {
    auto v = db.one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", int_column);
    if (!v) return v.take_error();
    return static_cast<int>(v->value_or(0));
  });
}

template class sql_statistics_index<connection_pool>;
template class sql_statistics_index<pg_pool>;

}  // namespace berth::meta
