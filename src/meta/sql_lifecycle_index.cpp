// Lifecycle policies and previews in SQL (SQLite and PostgreSQL).
#include "sql_roles.hpp"

namespace berth::meta {

using namespace sql_rows;

namespace {

constexpr auto read_policy = [](const auto& s) -> lifecycle_policy_row {
  return lifecycle_policy_row{s.text(0), s.int64(1)};
};

}  // namespace

template <class Pool>
result<void> sql_lifecycle_index<Pool>::put_policy(const std::string& repo, const std::string& text) {
  return pool_.write([&](auto& db) -> result<void> {
    auto id = require_repository(db, repo);
    if (!id) return id.take_error();
    auto n = db.run(
        "INSERT INTO lifecycle_policies(repository_id, text) VALUES(?, ?) "
        "ON CONFLICT(repository_id) DO UPDATE SET text = excluded.text",
        *id, text);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::optional<lifecycle_policy_row>> sql_lifecycle_index<Pool>::policy(const std::string& repo) {
  return pool_.read([&](auto& db) -> result<std::optional<lifecycle_policy_row>> {
    auto id = require_repository(db, repo);
    if (!id) return id.take_error();
    return db.one("SELECT text, COALESCE(last_evaluated_at, 0) FROM lifecycle_policies WHERE repository_id = ?",
                  read_policy, *id);
  });
}

template <class Pool>
result<std::optional<lifecycle_policy_row>> sql_lifecycle_index<Pool>::delete_policy(const std::string& repo) {
  return pool_.write([&](auto& db) -> result<std::optional<lifecycle_policy_row>> {
    auto id = require_repository(db, repo);
    if (!id) return id.take_error();
    auto row = db.one("SELECT text, COALESCE(last_evaluated_at, 0) FROM lifecycle_policies WHERE repository_id = ?",
                      read_policy, *id);
    if (!row || !*row) return row;
    if (auto n = db.run("DELETE FROM lifecycle_policies WHERE repository_id = ?", *id); !n) return n.take_error();
    return row;
  });
}

template <class Pool>
result<void> sql_lifecycle_index<Pool>::mark_evaluated(const std::string& repo, std::int64_t when) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE lifecycle_policies SET last_evaluated_at = ? "
        "WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)",
        when, repo);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::vector<std::string>> sql_lifecycle_index<Pool>::repositories_with_policy() {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT r.name FROM lifecycle_policies p JOIN repositories r ON r.id = p.repository_id ORDER BY r.name",
        text_column);
  });
}

template <class Pool>
result<void> sql_lifecycle_index<Pool>::start_preview(const std::string& repo, const std::string& text,
                                                      std::int64_t now, std::int64_t stale_before) {
  return pool_.write([&](auto& db) -> result<void> {
    auto id = require_repository(db, repo);
    if (!id) return id.take_error();
    auto running = db.exists(
        "SELECT 1 FROM lifecycle_previews WHERE repository_id = ? AND status = 'IN_PROGRESS' AND started_at >= ?", *id,
        stale_before);
    if (!running) return running.take_error();
    if (*running) return make_error(errc::limit_exceeded, repo);
    auto n = db.run(
        "INSERT INTO lifecycle_previews(repository_id, text, status, results, started_at) VALUES(?, ?, 'IN_PROGRESS', "
        "'[]', ?) ON CONFLICT(repository_id) DO UPDATE SET text = excluded.text, status = excluded.status, "
        "results = excluded.results, started_at = excluded.started_at",
        *id, text, now);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_lifecycle_index<Pool>::finish_preview(const std::string& repo, const std::string& status,
                                                       const std::string& results) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE lifecycle_previews SET status = ?, results = ? "
        "WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)",
        status, results, repo);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::optional<lifecycle_preview_row>> sql_lifecycle_index<Pool>::preview(const std::string& repo) {
  return pool_.read([&](auto& db) -> result<std::optional<lifecycle_preview_row>> {
    auto id = require_repository(db, repo);
    if (!id) return id.take_error();
    return db.one(
        "SELECT text, status, results, started_at FROM lifecycle_previews WHERE repository_id = ?",
        [](const auto& s) {
          return lifecycle_preview_row{s.text(0), s.text(1), s.text(2), s.int64(3)};
        },
        *id);
  });
}

template class sql_lifecycle_index<connection_pool>;
template class sql_lifecycle_index<pg_pool>;

}  // namespace berth::meta
