// The Secrets Manager secrets in SQL (SQLite and PostgreSQL); see vault_index.hpp.
#include "sql_roles.hpp"

namespace berth::meta {
namespace {

#define BERTH_VAULT_COLUMNS \
  "name, arn, description, kms_key_id, tags, created_at, changed_at, accessed_at, deletion_date, revision"

constexpr auto read_secret = [](const auto& s) {
  return vault_secret_row{s.text(0),  s.text(1),  s.text(2),  s.text(3),  s.text(4),
                          s.int64(5), s.int64(6), s.int64(7), s.int64(8), s.int64(9)};
};

// The write's precondition: the secret is still at the revision the writer read.
template <class Db>
result<void> bump_revision(Db& db, const std::string& name, std::int64_t revision) {
  auto n = db.run("UPDATE vault_secrets SET revision = revision + 1 WHERE name = ? AND revision = ?", name, revision);
  if (!n) return n.take_error();
  if (*n > 0) return {};
  auto exists = db.exists("SELECT 1 FROM vault_secrets WHERE name = ?", name);
  if (!exists) return exists.take_error();
  if (!*exists) return make_error(errc::secret_not_found, name);
  return make_error(errc::busy, "secret " + name + " changed meanwhile");
}

}  // namespace

template <class Pool>
result<void> sql_vault_index<Pool>::create(const vault_secret_row& s, const std::optional<vault_version_row>& first) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("INSERT INTO vault_secrets(" BERTH_VAULT_COLUMNS
                    ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING",
                    s.name, s.arn, s.description, s.kms_key_id, s.tags, s.created_at, s.changed_at, s.accessed_at,
                    s.deletion_date, s.revision);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::secret_already_exists, s.name);
    if (first) {
      auto v = db.run(
          "INSERT INTO vault_versions(secret_name, version_id, sealed_value, stages, created_at, seq) "
          "VALUES(?, ?, ?, ?, ?, 0)",
          s.name, first->version_id, first->sealed_value, first->stages, first->created_at);
      if (!v) return v.take_error();
    }
    return {};
  });
}

template <class Pool>
result<std::optional<vault_secret_row>> sql_vault_index<Pool>::find(const std::string& name) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT " BERTH_VAULT_COLUMNS " FROM vault_secrets WHERE name = ?", read_secret, name);
  });
}

template <class Pool>
result<std::vector<vault_version_row>> sql_vault_index<Pool>::versions(const std::string& name) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT version_id, sealed_value, stages, created_at FROM vault_versions WHERE secret_name = ? "
        "ORDER BY seq",
        [](const auto& s) {
          return vault_version_row{s.text(0), s.text(1), s.text(2), s.int64(3)};
        },
        name);
  });
}

template <class Pool>
result<void> sql_vault_index<Pool>::change_versions(const std::string& name, std::int64_t revision,
                                                    const vault_version_change& change, std::int64_t now) {
  return pool_.write([&](auto& db) -> result<void> {
    if (auto r = bump_revision(db, name, revision); !r) return r;
    if (change.added) {
      const auto& a = *change.added;
      // In the order written (the revision only grows), which created_at in seconds cannot tell.
      auto n = db.run(
          "INSERT INTO vault_versions(secret_name, version_id, sealed_value, stages, created_at, seq) "
          "VALUES(?, ?, ?, ?, ?, ?)",
          name, a.version_id, a.sealed_value, a.stages, a.created_at, revision + 1);
      if (!n) return n.take_error();
    }
    for (const auto& [id, stages] : change.relabelled) {
      auto n =
          db.run("UPDATE vault_versions SET stages = ? WHERE secret_name = ? AND version_id = ?", stages, name, id);
      if (!n) return n.take_error();
    }
    for (const auto& id : change.removed) {
      auto n = db.run("DELETE FROM vault_versions WHERE secret_name = ? AND version_id = ?", name, id);
      if (!n) return n.take_error();
    }
    auto n = db.run("UPDATE vault_secrets SET changed_at = ? WHERE name = ?", now, name);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_vault_index<Pool>::schedule_deletion(const std::string& name, std::int64_t revision,
                                                      std::int64_t when) {
  return pool_.write([&](auto& db) -> result<void> {
    if (auto r = bump_revision(db, name, revision); !r) return r;
    auto n = db.run("UPDATE vault_secrets SET deletion_date = ? WHERE name = ?", when, name);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<bool> sql_vault_index<Pool>::remove(const std::string& name) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto v = db.run("DELETE FROM vault_versions WHERE secret_name = ?", name);
    if (!v) return v.take_error();
    auto n = db.run("DELETE FROM vault_secrets WHERE name = ?", name);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<void> sql_vault_index<Pool>::mark_accessed(const std::string& name, std::int64_t day) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("UPDATE vault_secrets SET accessed_at = ? WHERE name = ? AND accessed_at < ?", day, name, day);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<std::vector<vault_secret_row>> sql_vault_index<Pool>::list(const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all("SELECT " BERTH_VAULT_COLUMNS " FROM vault_secrets WHERE name > ? ORDER BY name LIMIT ?", read_secret,
                  after, limit);
  });
}

template class sql_vault_index<connection_pool>;
template class sql_vault_index<pg_pool>;

}  // namespace berth::meta
