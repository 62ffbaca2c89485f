// Garbage collection, its recovery, fsck and usage queries in SQL (SQLite and PostgreSQL). See maintenance_index.hpp
// for the three-step removal of a blob.
#include "sql_roles.hpp"

namespace berth::meta {

namespace {

constexpr auto read_blob = [](const auto& s) -> blob_row {
  return blob_row{s.text(0), s.int64(1), s.int64(2), s.boolean(3)};
};

}  // namespace

template <class Pool>
result<std::vector<blob_row>> sql_maintenance_index<Pool>::unreferenced_blobs(std::int64_t before,
                                                                              const std::string& after,
                                                                              std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT b.digest, b.size, b.created_at, b.deleting FROM blobs b WHERE b.created_at <= ?1 AND b.deleting = 0 "
        "AND b.digest > ?2 "
        "AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = b.digest AND r.child_is_manifest = "
        "0) "
        "AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest AND l.linked_at > ?1) "
        "ORDER BY b.digest LIMIT ?3",
        read_blob, before, after, limit);
  });
}

template <class Pool>
result<bool> sql_maintenance_index<Pool>::begin_delete(const std::string& digest, std::int64_t before,
                                                       const deletion_claim& by) {
  return pool_.write([&](auto& db) -> result<bool> {
    // The conditions of unreferenced_blobs again, in the write transaction: a push that started
    // referencing or linking the blob since the scan wins.
    auto n = db.run(
        "UPDATE blobs SET deleting = 1, deleting_by = ?3, deleting_until = ?4 WHERE digest = ?1 AND deleting = 0 "
        "AND created_at <= ?2 "
        "AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = ?1 AND r.child_is_manifest = 0) "
        "AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = ?1 AND l.linked_at > ?2) "
        "AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.committing_digest = ?1 AND u.committing_until > ?5)",
        digest, before, by.holder, by.until, by.now);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<bool> sql_maintenance_index<Pool>::begin_delete_unrecorded(const std::string& digest, const deletion_claim& by) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto committing =
        db.exists("SELECT 1 FROM uploads WHERE committing_digest = ? AND committing_until > ?", digest, by.now);
    if (!committing) return committing.take_error();
    if (*committing) return false;
    auto n = db.run(
        "INSERT INTO blobs(digest, size, created_at, deleting, deleting_by, deleting_until) VALUES(?, 0, ?, 1, ?, ?) "
        "ON CONFLICT DO NOTHING",
        digest, by.now, by.holder, by.until);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<bool> sql_maintenance_index<Pool>::take_over_delete(const std::string& digest, const deletion_claim& by) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n = db.run(
        "UPDATE blobs SET deleting_by = ?, deleting_until = ? WHERE digest = ? AND deleting = 1 AND deleting_until < ?",
        by.holder, by.until, digest, by.now);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<void> sql_maintenance_index<Pool>::finish_delete(const std::string& digest, const std::string& holder) {
  return pool_.write([&](auto& db) -> result<void> {
    auto mine = db.exists("SELECT 1 FROM blobs WHERE digest = ? AND deleting = 1 AND deleting_by = ?", digest, holder);
    if (!mine) return mine.take_error();
    if (!*mine) return {};
    for (auto sql : {"DELETE FROM repository_blobs WHERE digest = ?", "DELETE FROM blobs WHERE digest = ?"}) {
      if (auto n = db.run(sql, digest); !n) return n.take_error();
    }
    return {};
  });
}

template <class Pool>
result<std::vector<std::string>> sql_maintenance_index<Pool>::abandoned_deletions(std::int64_t now) {
  return pool_.read([&](auto& db) {
    return db.all("SELECT digest FROM blobs WHERE deleting = 1 AND deleting_until < ? ORDER BY digest", text_column,
                  now);
  });
}

template <class Pool>
result<std::optional<blob_row>> sql_maintenance_index<Pool>::find_blob(const std::string& digest) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT digest, size, created_at, deleting FROM blobs WHERE digest = ?", read_blob, digest);
  });
}

template <class Pool>
result<std::vector<blob_row>> sql_maintenance_index<Pool>::blobs(const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT digest, size, created_at, deleting FROM blobs WHERE digest > ? AND deleting = 0 ORDER BY digest LIMIT "
        "?",
        read_blob, after, limit);
  });
}

template <class Pool>
result<std::vector<reference_row>> sql_maintenance_index<Pool>::references(const reference_row& after,
                                                                           std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT r.name, m.manifest_digest, m.child_digest, m.child_is_manifest FROM manifest_references m "
        "JOIN repositories r ON r.id = m.repository_id "
        "WHERE (r.name, m.manifest_digest, m.child_digest, m.child_is_manifest) > (?, ?, ?, ?) "
        "ORDER BY r.name, m.manifest_digest, m.child_digest, m.child_is_manifest LIMIT ?",
        [](const auto& s) {
          return reference_row{s.text(0), s.text(1), s.text(2), s.boolean(3)};
        },
        after.repository, after.manifest, after.child, after.child_is_manifest, limit);
  });
}

template <class Pool>
result<std::vector<usage_row>> sql_maintenance_index<Pool>::usage(const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT r.name, "
        "(SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id), "
        "(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id), "
        "(SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN "
        "  (SELECT child_digest FROM manifest_references x WHERE x.repository_id = r.id AND x.child_is_manifest = 0)) "
        "FROM repositories r WHERE r.name > ? ORDER BY r.name LIMIT ?",
        [](const auto& s) {
          return usage_row{s.text(0), s.int64(1), s.int64(2), s.int64(3)};
        },
        after, limit);
  });
}

template class sql_maintenance_index<connection_pool>;
template class sql_maintenance_index<pg_pool>;

}  // namespace berth::meta
