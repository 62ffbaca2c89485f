// The pull-through cache's imports and tag checks in SQL (SQLite and PostgreSQL).
#include "sql_roles.hpp"

namespace berth::meta {
namespace {

#define BERTH_IMPORT_COLUMNS "repository, digest, tag, media_type, content, created_at, attempts, next_at, last_error"

constexpr auto read_import = [](const auto& s) {
  return cache_import_row{s.text(0),  s.text(1),  s.text(2),  s.text(3), s.blob(4),
                          s.int64(5), s.int64(6), s.int64(7), s.text(8)};
};

}  // namespace

template <class Pool>
result<void> sql_cache_index<Pool>::enqueue(const cache_import_row& r) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("INSERT INTO cache_imports(" BERTH_IMPORT_COLUMNS
                    ", holder, held_until) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0) "
                    "ON CONFLICT(repository, digest, tag) DO NOTHING",
                    r.repository, r.digest, r.tag, r.media_type, as_blob(r.content), r.created_at, r.attempts,
                    r.next_at, r.last_error);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::optional<cache_import_row>> sql_cache_index<Pool>::pending(const std::string& repository,
                                                                       const std::string& reference) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT " BERTH_IMPORT_COLUMNS
                  " FROM cache_imports WHERE repository = ? AND (digest = ? OR tag = ?) ORDER BY created_at DESC "
                  "LIMIT 1",
                  read_import, repository, reference, reference);
  });
}

template <class Pool>
result<std::optional<cache_import_row>> sql_cache_index<Pool>::claim_due(const std::string& holder, std::int64_t now,
                                                                         std::int64_t until) {
  return pool_.write([&](auto& db) -> result<std::optional<cache_import_row>> {
    auto row = db.one("SELECT " BERTH_IMPORT_COLUMNS
                      " FROM cache_imports WHERE next_at <= ? AND held_until < ? ORDER BY next_at LIMIT 1",
                      read_import, now, now);
    if (!row || !*row) return row;
    auto n = db.run(
        "UPDATE cache_imports SET holder = ?, held_until = ? WHERE repository = ? AND digest = ? AND tag = ? "
        "AND held_until < ?",
        holder, until, (*row)->repository, (*row)->digest, (*row)->tag, now);
    if (!n) return n.take_error();
    if (*n == 0) return std::optional<cache_import_row>();
    return row;
  });
}

template <class Pool>
result<void> sql_cache_index<Pool>::finish(const cache_import_row& r) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("DELETE FROM cache_imports WHERE repository = ? AND digest = ? AND tag = ?", r.repository, r.digest,
                    r.tag);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_cache_index<Pool>::retry(const cache_import_row& r, std::int64_t next_at, const std::string& error) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE cache_imports SET attempts = attempts + 1, next_at = ?, last_error = ?, holder = '', held_until = 0 "
        "WHERE repository = ? AND digest = ? AND tag = ?",
        next_at, error, r.repository, r.digest, r.tag);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::optional<std::int64_t>> sql_cache_index<Pool>::tag_checked_at(const std::string& repository,
                                                                          const std::string& tag) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT checked_at FROM cache_tag_checks WHERE repository = ? AND tag = ?", int_column, repository,
                  tag);
  });
}

template <class Pool>
result<void> sql_cache_index<Pool>::set_tag_checked_at(const std::string& repository, const std::string& tag,
                                                       std::int64_t when) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO cache_tag_checks(repository, tag, checked_at) VALUES(?, ?, ?) "
        "ON CONFLICT(repository, tag) DO UPDATE SET checked_at = excluded.checked_at",
        repository, tag, when);
    if (!n) return n.take_error();
    return {};
  });
}

template class sql_cache_index<connection_pool>;
template class sql_cache_index<pg_pool>;

}  // namespace berth::meta
