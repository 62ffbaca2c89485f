// Replication jobs and replicated blobs in SQL (SQLite and PostgreSQL). The jobs themselves are
// inserted by sql_image_index::put_manifest, in the manifest's transaction.
#include "sql_roles.hpp"

namespace berth::meta {
namespace {

#define BERTH_JOB_COLUMNS "repository, digest, tag, region, registry_id, status, attempts, next_at, failure, generation"

constexpr auto read_job = [](const auto& s) {
  return replication_job_row{s.text(0), s.text(1),  s.text(2),  s.text(3), s.text(4),
                             s.text(5), s.int64(6), s.int64(7), s.text(8), s.int64(9)};
};

#define BERTH_JOB_KEY "repository = ? AND digest = ? AND region = ? AND registry_id = ? AND tag = ?"

}  // namespace

template <class Pool>
result<std::optional<replication_job_row>> sql_replication_index<Pool>::claim_due(const std::string& holder,
                                                                                  std::int64_t now,
                                                                                  std::int64_t until) {
  return pool_.write([&](auto& db) -> result<std::optional<replication_job_row>> {
    auto row = db.one("SELECT " BERTH_JOB_COLUMNS
                      " FROM replication_jobs WHERE status = 'IN_PROGRESS' AND next_at <= ? AND held_until < ? "
                      "ORDER BY next_at LIMIT 1",
                      read_job, now, now);
    if (!row || !*row) return row;
    const auto& r = **row;
    auto n = db.run("UPDATE replication_jobs SET holder = ?, held_until = ? WHERE " BERTH_JOB_KEY " AND held_until < ?",
                    holder, until, r.repository, r.digest, r.region, r.registry_id, r.tag, now);
    if (!n) return n.take_error();
    if (*n == 0) return std::optional<replication_job_row>();
    return row;
  });
}

// An outcome for the generation the worker claimed; a push that enqueued the job again since
// leaves it IN_PROGRESS for another attempt.
template <class Pool>
result<void> sql_replication_index<Pool>::complete(const replication_job_row& r) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE replication_jobs SET status = 'COMPLETE', failure = '', holder = '', held_until = 0 "
        "WHERE " BERTH_JOB_KEY " AND generation = ?",
        r.repository, r.digest, r.region, r.registry_id, r.tag, r.generation);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_replication_index<Pool>::retry(const replication_job_row& r, std::int64_t next_at,
                                                const std::string& error) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE replication_jobs SET attempts = attempts + 1, next_at = ?, failure = ?, holder = '', "
        "held_until = 0 WHERE " BERTH_JOB_KEY " AND generation = ?",
        next_at, error, r.repository, r.digest, r.region, r.registry_id, r.tag, r.generation);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_replication_index<Pool>::fail(const replication_job_row& r, const std::string& failure_code) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE replication_jobs SET status = 'FAILED', attempts = attempts + 1, failure = ?, "
        "holder = '', held_until = 0 WHERE " BERTH_JOB_KEY " AND generation = ?",
        failure_code, r.repository, r.digest, r.region, r.registry_id, r.tag, r.generation);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<bool> sql_replication_index<Pool>::extend(const replication_job_row& r, const std::string& holder,
                                                 std::int64_t until) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n =
        db.run("UPDATE replication_jobs SET held_until = ? WHERE " BERTH_JOB_KEY " AND generation = ? AND holder = ?",
               until, r.repository, r.digest, r.region, r.registry_id, r.tag, r.generation, holder);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<void> sql_replication_index<Pool>::release(const std::string& holder) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("UPDATE replication_jobs SET holder = '', held_until = 0 WHERE holder = ?", holder);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_replication_index<Pool>::drop(const replication_job_row& r) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("DELETE FROM replication_jobs WHERE " BERTH_JOB_KEY " AND generation = ?", r.repository, r.digest,
                    r.region, r.registry_id, r.tag, r.generation);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::vector<replication_job_row>> sql_replication_index<Pool>::jobs_of(const std::string& repository,
                                                                              const std::string& digest) {
  return pool_.read([&](auto& db) {
    return db.all("SELECT " BERTH_JOB_COLUMNS
                  " FROM replication_jobs WHERE repository = ? AND digest = ? ORDER BY region, registry_id, tag",
                  read_job, repository, digest);
  });
}

template <class Pool>
result<std::optional<std::string>> sql_replication_index<Pool>::blob_holder(const std::string& region,
                                                                            const std::string& registry_id,
                                                                            const std::string& digest) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT repository FROM replicated_blobs WHERE region = ? AND registry_id = ? AND digest = ?",
                  text_column, region, registry_id, digest);
  });
}

template <class Pool>
result<void> sql_replication_index<Pool>::note_blob(const std::string& region, const std::string& registry_id,
                                                    const std::string& digest, const std::string& repository) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO replicated_blobs(region, registry_id, digest, repository) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(region, registry_id, digest) DO UPDATE SET repository = excluded.repository",
        region, registry_id, digest, repository);
    if (!n) return n.take_error();
    return {};
  });
}

template class sql_replication_index<connection_pool>;
template class sql_replication_index<pg_pool>;

}  // namespace berth::meta
