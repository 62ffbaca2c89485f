// Blob links in SQL: which repository may read which blob.
#include "sql_roles.hpp"

namespace berth::meta {

using namespace sql_rows;

template <class Pool>
result<std::optional<std::int64_t>> sql_blob_index<Pool>::linked_size(const std::string& repo,
                                                                      const std::string& digest) {
  return pool_.read([&](auto& db) {
    return db.one(
        "SELECT b.size FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id "
        "JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest = ? AND b.deleting = 0",
        int_column, repo, digest);
  });
}

template <class Pool>
result<void> sql_blob_index<Pool>::record(const blob_record& r) {
  return pool_.write([&](auto& db) -> result<void> {
    auto rid = require_repository(db, r.repository);
    if (!rid) return rid.take_error();
    if (auto free = require_not_being_removed(db, r.digest); !free) return free;
    if (auto w = db.run("INSERT INTO blobs(digest, size, created_at) VALUES(?, ?, ?) ON CONFLICT DO NOTHING", r.digest,
                        r.size, r.now);
        !w) {
      return w.take_error();
    }
    // A re-upload refreshes the link's time: it protects the blob from collection again.
    if (auto w = db.run("INSERT INTO repository_blobs(repository_id, digest, linked_at) VALUES(?, ?, ?) "
                        "ON CONFLICT(repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
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

template <class Pool>
result<bool> sql_blob_index<Pool>::mount(const std::string& repo, const std::string& from, const std::string& digest,
                                         std::int64_t now) {
  return pool_.write([&](auto& db) -> result<bool> {
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
        "ON CONFLICT(repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
        *rid, digest, now);
    if (!w) return w.take_error();
    return true;
  });
}

template <class Pool>
result<bool> sql_blob_index<Pool>::unlink(const std::string& repo, const std::string& digest) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n = db.run(
        "DELETE FROM repository_blobs WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = "
        "?)",
        digest, repo);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template class sql_blob_index<connection_pool>;
template class sql_blob_index<pg_pool>;

}  // namespace berth::meta
