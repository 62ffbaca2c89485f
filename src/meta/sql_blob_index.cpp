// Blob links on SQLite: which repository may read which blob.
#include "sqlite_roles.hpp"

namespace berth::meta {

using namespace sqlite_rows;

result<std::optional<std::int64_t>> sqlite_blob_index::linked_size(const std::string& repo, const std::string& digest) {
  return pool_.read([&](sqlite_connection& db) {
    return db.one(
        "SELECT b.size FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id "
        "JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest = ? AND b.deleting = 0",
        int_column, repo, digest);
  });
}

result<void> sqlite_blob_index::record(const blob_record& r) {
  return pool_.write([&](sqlite_connection& db) -> result<void> {
    auto rid = require_repository(db, r.repository);
    if (!rid) return rid.take_error();
    auto deleting = db.exists("SELECT 1 FROM blobs WHERE digest = ? AND deleting = 1", r.digest);
    if (!deleting) return deleting.take_error();
    if (*deleting) return make_error(errc::busy, "blob " + r.digest + " is being garbage-collected");
    if (auto w = db.run("INSERT INTO blobs(digest, size, created_at) VALUES(?, ?, ?) ON CONFLICT DO NOTHING", r.digest,
                        r.size, r.now);
        !w) {
      return w.take_error();
    }
    // A re-upload refreshes the link's time: it protects the blob from collection again.
    if (auto w = db.run("INSERT INTO repository_blobs(repository_id, digest, linked_at) VALUES(?, ?, ?) "
                        "ON CONFLICT DO UPDATE SET linked_at = excluded.linked_at",
                        *rid, r.digest, r.now);
        !w) {
      return w.take_error();
    }
    if (!r.upload_id.empty()) {
      if (auto w = db.run("DELETE FROM uploads WHERE id = ?", r.upload_id); !w) return w.take_error();
    }
    return {};
  });
}

result<bool> sqlite_blob_index::mount(const std::string& repo, const std::string& from, const std::string& digest,
                                      std::int64_t now) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    auto src = repository_id(db, from);
    if (!src) return false;
    auto readable = db.exists(
        "SELECT 1 FROM repository_blobs l JOIN blobs b ON b.digest = l.digest "
        "WHERE l.repository_id = ? AND l.digest = ? AND b.deleting = 0",
        *src, digest);
    if (!readable) return readable.take_error();
    if (!*readable) return false;
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    auto w = db.run(
        "INSERT INTO repository_blobs(repository_id, digest, linked_at) VALUES(?, ?, ?) "
        "ON CONFLICT DO UPDATE SET linked_at = excluded.linked_at",
        *rid, digest, now);
    if (!w) return w.take_error();
    return true;
  });
}

result<bool> sqlite_blob_index::unlink(const std::string& repo, const std::string& digest) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    auto n = db.run(
        "DELETE FROM repository_blobs WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = "
        "?)",
        digest, repo);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

}  // namespace berth::meta
