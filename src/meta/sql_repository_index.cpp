// Repositories, their settings and resource tags, in SQL (SQLite and PostgreSQL).
#include "sql_roles.hpp"

namespace berth::meta {

using namespace sql_rows;

namespace {

template <class Db>
result<void> put_tags(Db& db, std::int64_t id, const resource_tags& tags) {
  for (const auto& [k, v] : tags) {
    auto r = db.run(
        "INSERT INTO repository_tags(repository_id, key, value) VALUES(?, ?, ?) "
        "ON CONFLICT(repository_id, key) DO UPDATE SET value = excluded.value",
        id, k, v);
    if (!r) return r.take_error();
  }
  return {};
}

}  // namespace

template <class Pool>
result<void> sql_repository_index<Pool>::create(const std::string& name, const repository_settings& s,
                                                const resource_tags& tags, std::int64_t now) {
  return pool_.write_access([&](auto& db) -> result<void> {
    if (repository_id(db, name)) return make_error(errc::repository_already_exists, name);
    auto id = db.one(
        "INSERT INTO repositories(name, created_at, image_tag_mutability, mutability_exclusions, scan_on_push, "
        "encryption_type, kms_key) VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id",
        int_column, name, now, s.image_tag_mutability, s.mutability_exclusions, s.scan_on_push, s.encryption_type,
        s.kms_key);
    if (!id) return id.take_error();
    if (auto r = put_tags(db, id->value_or(0), tags); !r) return r;
    if (auto r = db.run(bump_access_generation); !r) return r.take_error();  // a repository's tags are new
    return {};
  });
}

template <class Pool>
result<std::optional<repository_row>> sql_repository_index<Pool>::find(const std::string& name) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT " BERTH_REPOSITORY_COLUMNS " FROM repositories WHERE name = ?", read_repository, name);
  });
}

template <class Pool>
result<std::vector<repository_row>> sql_repository_index<Pool>::list(const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all("SELECT " BERTH_REPOSITORY_COLUMNS " FROM repositories WHERE name > ? ORDER BY name LIMIT ?",
                  read_repository, after, limit);
  });
}

template <class Pool>
result<std::vector<std::string>> sql_repository_index<Pool>::names(const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", text_column, after, limit);
  });
}

template <class Pool>
result<void> sql_repository_index<Pool>::update_settings(const std::string& name, const repository_settings& s) {
  return pool_.write([&](auto& db) -> result<void> {
    auto changed = db.run(
        "UPDATE repositories SET image_tag_mutability = ?, mutability_exclusions = ?, scan_on_push = ?, "
        "encryption_type = ?, kms_key = ? WHERE name = ?",
        s.image_tag_mutability, s.mutability_exclusions, s.scan_on_push, s.encryption_type, s.kms_key, name);
    if (!changed) return changed.take_error();
    if (*changed == 0) return make_error(errc::name_unknown, name);
    return {};
  });
}

template <class Pool>
result<repository_row> sql_repository_index<Pool>::remove(const std::string& name, bool force) {
  return pool_.write_access([&](auto& db) -> result<repository_row> {
    auto row = db.one(
        "SELECT " BERTH_REPOSITORY_COLUMNS ", id FROM repositories WHERE name = ?",
        [](const auto& s) { return std::make_pair(read_repository(s), s.int64(7)); }, name);
    if (!row) return row.take_error();
    if (!*row) return make_error(errc::name_unknown, name);
    const auto id = (*row)->second;
    if (!force) {
      auto images = db.exists("SELECT 1 FROM manifests WHERE repository_id = ? LIMIT 1", id);
      if (!images) return images.take_error();
      if (*images) return make_error(errc::repository_not_empty, name);
    }
    // Children first: the foreign keys between them are not all declared with cascades.
    for (auto sql :
         {"DELETE FROM lifecycle_policies WHERE repository_id = ?",
          "DELETE FROM lifecycle_previews WHERE repository_id = ?", "DELETE FROM tags WHERE repository_id = ?",
          "DELETE FROM manifest_references WHERE repository_id = ?", "DELETE FROM manifests WHERE repository_id = ?",
          "DELETE FROM repository_blobs WHERE repository_id = ?", "DELETE FROM uploads WHERE repository_id = ?",
          "DELETE FROM repository_tags WHERE repository_id = ?",
          "DELETE FROM repository_policies WHERE repository_id = ?", "DELETE FROM repositories WHERE id = ?"}) {
      if (auto r = db.run(sql, id); !r) return r.take_error();
    }
    if (auto r = db.run("DELETE FROM replication_jobs WHERE repository = ?", name); !r) return r.take_error();
    // Authorization caches what it read about the repository (policy, tags): it is gone now.
    if (auto r = db.run(bump_access_generation); !r) return r.take_error();
    return (*row)->first;
  });
}

template <class Pool>
result<resource_tags> sql_repository_index<Pool>::tags(const std::string& name) {
  return pool_.read([&](auto& db) -> result<resource_tags> {
    auto id = require_repository(db, name);
    if (!id) return id.take_error();
    return db.all(
        "SELECT key, value FROM repository_tags WHERE repository_id = ? ORDER BY key",
        [](const auto& s) { return std::make_pair(s.text(0), s.text(1)); }, *id);
  });
}

template <class Pool>
result<void> sql_repository_index<Pool>::tag(const std::string& name, const resource_tags& tags, std::size_t max_tags) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto id = require_repository(db, name);
    if (!id) return id.take_error();
    if (auto r = put_tags(db, *id, tags); !r) return r;
    auto count = db.one("SELECT COUNT(*) FROM repository_tags WHERE repository_id = ?", int_column, *id);
    if (!count) return count.take_error();
    if (static_cast<std::size_t>(count->value_or(0)) > max_tags) return make_error(errc::too_many_tags, name);
    if (auto r = db.run(bump_access_generation); !r) return r.take_error();  // ResourceTag conditions
    return {};
  });
}

template <class Pool>
result<void> sql_repository_index<Pool>::untag(const std::string& name, const std::vector<std::string>& keys) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto id = require_repository(db, name);
    if (!id) return id.take_error();
    for (const auto& k : keys) {
      if (auto r = db.run("DELETE FROM repository_tags WHERE repository_id = ? AND key = ?", *id, k); !r) {
        return r.take_error();
      }
    }
    if (auto r = db.run(bump_access_generation); !r) return r.take_error();  // ResourceTag conditions
    return {};
  });
}

template class sql_repository_index<connection_pool>;
template class sql_repository_index<pg_pool>;

}  // namespace berth::meta
