// Garbage collection, its recovery, fsck and usage queries on SQLite. See maintenance_index.hpp
// for the three-step removal of a blob.
#include "sqlite_roles.hpp"

namespace berth::meta {

namespace {

blob_row read_blob(const statement& s) { return blob_row{s.text(0), s.int64(1), s.int64(2), s.boolean(3)}; }

}  // namespace

result<std::vector<blob_row>> sqlite_maintenance_index::unreferenced_blobs(std::int64_t before,
                                                                           const std::string& after,
                                                                           std::size_t limit) {
  return pool_.read([&](sqlite_connection& db) {
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

result<bool> sqlite_maintenance_index::begin_delete(const std::string& digest, std::int64_t before,
                                                    const deletion_claim& by) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    // The conditions of unreferenced_blobs again, in the write transaction: a push that started
    // referencing or linking the blob since the scan wins.
    auto n = db.run(
        "UPDATE blobs SET deleting = 1, deleting_by = ?3, deleting_until = ?4 WHERE digest = ?1 AND deleting = 0 "
        "AND created_at <= ?2 "
        "AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = ?1 AND r.child_is_manifest = 0) "
        "AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = ?1 AND l.linked_at > ?2)",
        digest, before, by.holder, by.until);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

result<bool> sqlite_maintenance_index::begin_delete_unrecorded(const std::string& digest, const deletion_claim& by) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    auto n = db.run(
        "INSERT INTO blobs(digest, size, created_at, deleting, deleting_by, deleting_until) VALUES(?, 0, ?, 1, ?, ?) "
        "ON CONFLICT DO NOTHING",
        digest, by.now, by.holder, by.until);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

result<bool> sqlite_maintenance_index::take_over_delete(const std::string& digest, const deletion_claim& by) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    auto n = db.run(
        "UPDATE blobs SET deleting_by = ?, deleting_until = ? WHERE digest = ? AND deleting = 1 AND deleting_until < ?",
        by.holder, by.until, digest, by.now);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

result<void> sqlite_maintenance_index::finish_delete(const std::string& digest, const std::string& holder) {
  return pool_.write([&](sqlite_connection& db) -> result<void> {
    auto mine = db.exists("SELECT 1 FROM blobs WHERE digest = ? AND deleting = 1 AND deleting_by = ?", digest, holder);
    if (!mine) return mine.take_error();
    if (!*mine) return {};
    for (auto sql : {"DELETE FROM repository_blobs WHERE digest = ?", "DELETE FROM blobs WHERE digest = ?"}) {
      if (auto n = db.run(sql, digest); !n) return n.take_error();
    }
    return {};
  });
}

result<std::vector<std::string>> sqlite_maintenance_index::abandoned_deletions(std::int64_t now) {
  return pool_.read([&](sqlite_connection& db) {
    return db.all("SELECT digest FROM blobs WHERE deleting = 1 AND deleting_until < ? ORDER BY digest", text_column,
                  now);
  });
}

result<std::optional<blob_row>> sqlite_maintenance_index::find_blob(const std::string& digest) {
  return pool_.read([&](sqlite_connection& db) {
    return db.one("SELECT digest, size, created_at, deleting FROM blobs WHERE digest = ?", read_blob, digest);
  });
}

result<std::vector<blob_row>> sqlite_maintenance_index::blobs(const std::string& after, std::size_t limit) {
  return pool_.read([&](sqlite_connection& db) {
    return db.all(
        "SELECT digest, size, created_at, deleting FROM blobs WHERE digest > ? AND deleting = 0 ORDER BY digest LIMIT "
        "?",
        read_blob, after, limit);
  });
}

result<std::vector<reference_row>> sqlite_maintenance_index::references(const reference_row& after, std::size_t limit) {
  return pool_.read([&](sqlite_connection& db) {
    return db.all(
        "SELECT r.name, m.manifest_digest, m.child_digest, m.child_is_manifest FROM manifest_references m "
        "JOIN repositories r ON r.id = m.repository_id "
        "WHERE (r.name, m.manifest_digest, m.child_digest, m.child_is_manifest) > (?, ?, ?, ?) "
        "ORDER BY r.name, m.manifest_digest, m.child_digest, m.child_is_manifest LIMIT ?",
        [](const statement& s) {
          return reference_row{s.text(0), s.text(1), s.text(2), s.boolean(3)};
        },
        after.repository, after.manifest, after.child, after.child_is_manifest, limit);
  });
}

result<std::vector<usage_row>> sqlite_maintenance_index::usage(const std::string& after, std::size_t limit) {
  return pool_.read([&](sqlite_connection& db) {
    return db.all(
        "SELECT r.name, "
        "(SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id), "
        "(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id), "
        "(SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN "
        "  (SELECT child_digest FROM manifest_references x WHERE x.repository_id = r.id AND x.child_is_manifest = 0)) "
        "FROM repositories r WHERE r.name > ? ORDER BY r.name LIMIT ?",
        [](const statement& s) {
          return usage_row{s.text(0), s.int64(1), s.int64(2), s.int64(3)};
        },
        after, limit);
  });
}

}  // namespace berth::meta
