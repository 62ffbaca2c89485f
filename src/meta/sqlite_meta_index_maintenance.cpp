// The metadata index, continued: lifecycle policies and previews, storage classes, garbage
// collection and fsck queries.
#include "berth/meta/sqlite_meta_index.hpp"
#include "sqlite_rows.hpp"

namespace berth::meta {

using namespace detail;

// ---- lifecycle -----------------------------------------------------------------------------------

result<void> sqlite_meta_index::put_lifecycle_policy(const std::string& repo, const std::string& text) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto id = require_repository(db, repo);
  if (!id) return id.take_error();
  auto s = db.prepare(
      "INSERT INTO lifecycle_policies(repository_id, text) VALUES(?, ?) "
      "ON CONFLICT(repository_id) DO UPDATE SET text = excluded.text");
  s.bind(1, *id).bind(2, text);
  s.step();
  if (s.failed()) return db.last_error("put lifecycle policy");
  return tx.commit();
}

result<std::optional<lifecycle_policy_row>> sqlite_meta_index::lifecycle_policy(const std::string& repo) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  if (!repository_id_of(**db, repo)) return make_error(errc::name_unknown, repo);
  auto s = (*db)->prepare(
      "SELECT text, COALESCE(last_evaluated_at, 0) FROM lifecycle_policies "
      "WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, repo);
  if (s.step()) return std::optional<lifecycle_policy_row>(lifecycle_policy_row{s.text(0), s.int64(1)});
  return std::optional<lifecycle_policy_row>();
}

result<std::optional<lifecycle_policy_row>> sqlite_meta_index::delete_lifecycle_policy(const std::string& repo) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto id = require_repository(db, repo);
  if (!id) return id.take_error();
  auto s = db.prepare(
      "DELETE FROM lifecycle_policies WHERE repository_id = ? RETURNING text, COALESCE(last_evaluated_at, 0)");
  s.bind(1, *id);
  if (s.step()) {
    lifecycle_policy_row row{s.text(0), s.int64(1)};
    while (s.step()) {
    }
    return std::optional<lifecycle_policy_row>(row);
  }
  if (s.failed()) return db.last_error("delete lifecycle policy");
  return std::optional<lifecycle_policy_row>();
}

result<void> sqlite_meta_index::mark_lifecycle_evaluated(const std::string& repo, std::int64_t when) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      "UPDATE lifecycle_policies SET last_evaluated_at = ? "
      "WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, when).bind(2, repo);
  s.step();
  if (s.failed()) return db.last_error("mark lifecycle evaluated");
  return {};
}

result<std::vector<std::string>> sqlite_meta_index::repositories_with_lifecycle_policy() {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT r.name FROM lifecycle_policies p JOIN repositories r ON r.id = p.repository_id ORDER BY r.name");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  if (s.failed()) return (*db)->last_error("list lifecycle policies");
  return out;
}

result<void> sqlite_meta_index::start_lifecycle_preview(const std::string& repo, const std::string& text,
                                                        std::int64_t now, std::int64_t stale_before) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto id = require_repository(db, repo);
  if (!id) return id.take_error();
  {
    auto s = db.prepare("SELECT status, started_at FROM lifecycle_previews WHERE repository_id = ?");
    s.bind(1, *id);
    if (s.step() && s.text(0) == "IN_PROGRESS" && s.int64(1) >= stale_before) {
      return make_error(errc::limit_exceeded, repo);
    }
  }
  auto s = db.prepare(
      "INSERT INTO lifecycle_previews(repository_id, text, status, results, started_at) VALUES(?, ?, 'IN_PROGRESS', "
      "'[]', ?) ON CONFLICT(repository_id) DO UPDATE SET text = excluded.text, status = excluded.status, "
      "results = excluded.results, started_at = excluded.started_at");
  s.bind(1, *id).bind(2, text).bind(3, now);
  s.step();
  if (s.failed()) return db.last_error("start lifecycle preview");
  return tx.commit();
}

result<void> sqlite_meta_index::finish_lifecycle_preview(const std::string& repo, const std::string& status,
                                                         const std::string& results) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      "UPDATE lifecycle_previews SET status = ?, results = ? "
      "WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, status).bind(2, results).bind(3, repo);
  s.step();
  if (s.failed()) return db.last_error("finish lifecycle preview");
  return {};
}

result<std::optional<lifecycle_preview_row>> sqlite_meta_index::lifecycle_preview(const std::string& repo) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  if (!repository_id_of(**db, repo)) return make_error(errc::name_unknown, repo);
  auto s = (*db)->prepare(
      "SELECT text, status, results, started_at FROM lifecycle_previews "
      "WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, repo);
  if (s.step()) {
    return std::optional<lifecycle_preview_row>(lifecycle_preview_row{s.text(0), s.text(1), s.text(2), s.int64(3)});
  }
  return std::optional<lifecycle_preview_row>();
}

result<bool> sqlite_meta_index::set_storage_class(const std::string& repo, const std::string& digest, bool archived,
                                                  std::int64_t now) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      archived ? "UPDATE manifests SET storage_class = 'ARCHIVE', last_archived_at = ? WHERE digest = ? AND "
                 "repository_id = (SELECT id FROM repositories WHERE name = ?)"
               : "UPDATE manifests SET storage_class = 'STANDARD', last_activated_at = ? WHERE digest = ? AND "
                 "repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, now).bind(2, digest).bind(3, repo);
  s.step();
  if (s.failed()) return db.last_error("set storage class");
  return sqlite3_changes(db.handle()) > 0;
}

result<std::vector<std::string>> sqlite_meta_index::referrer_digests(const std::string& repo, const std::string& digest) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT digest FROM manifests WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND subject = ? "
      "ORDER BY digest");
  s.bind(1, repo).bind(2, digest);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  if (s.failed()) return (*db)->last_error("referrers");
  return out;
}

// ---- garbage collection and fsck -----------------------------------------------------------------

result<std::vector<blob_row>> sqlite_meta_index::unreferenced_blobs(std::int64_t before) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT b.digest, b.size, b.created_at FROM blobs b WHERE b.created_at <= ?1 "
      "AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = b.digest AND r.child_is_manifest = 0) "
      "AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest AND l.linked_at > ?1) "
      "ORDER BY b.digest");
  s.bind(1, before);
  std::vector<blob_row> out;
  while (s.step()) out.push_back(blob_row{s.text(0), s.int64(1), s.int64(2)});
  if (s.failed()) return (*db)->last_error("unreferenced blobs");
  return out;
}

result<bool> sqlite_meta_index::delete_unreferenced_blob(const std::string& digest, std::int64_t before,
                                                         const std::function<result<void>()>& unpublish) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r.take_error();
  {
    // The same conditions as unreferenced_blobs, now under the write lock: a push that started
    // referencing the blob since the scan wins.
    auto s = db.prepare(
        "SELECT 1 FROM blobs b WHERE b.digest = ?1 AND b.created_at <= ?2 "
        "AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_digest = b.digest AND r.child_is_manifest = 0) "
        "AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest AND l.linked_at > ?2)");
    s.bind(1, digest).bind(2, before);
    if (!s.step()) return false;
  }
  for (auto sql : {"DELETE FROM repository_blobs WHERE digest = ?", "DELETE FROM blobs WHERE digest = ?"}) {
    auto s = db.prepare(sql);
    s.bind(1, digest);
    s.step();
    if (s.failed()) return db.last_error("delete blob");
  }
  if (auto r = unpublish(); !r) return r.take_error();
  if (auto r = tx.commit(); !r) return r.take_error();
  return true;
}

result<std::optional<blob_row>> sqlite_meta_index::find_blob(const std::string& digest) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare("SELECT digest, size, created_at FROM blobs WHERE digest = ?");
  s.bind(1, digest);
  if (s.step()) return std::optional<blob_row>(blob_row{s.text(0), s.int64(1), s.int64(2)});
  return std::optional<blob_row>();
}

result<bool> sqlite_meta_index::if_blob_unrecorded(const std::string& digest, const std::function<void()>& action) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r.take_error();
  auto s = db.prepare("SELECT 1 FROM blobs WHERE digest = ?");
  s.bind(1, digest);
  if (s.step()) return false;
  action();
  if (auto r = tx.commit(); !r) return r.take_error();
  return true;
}

result<std::vector<blob_row>> sqlite_meta_index::all_blobs() {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare("SELECT digest, size, created_at FROM blobs ORDER BY digest");
  std::vector<blob_row> out;
  while (s.step()) out.push_back(blob_row{s.text(0), s.int64(1), s.int64(2)});
  if (s.failed()) return (*db)->last_error("all blobs");
  return out;
}

result<std::vector<meta_index::reference_row>> sqlite_meta_index::all_references() {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT r.name, m.manifest_digest, m.child_digest, m.child_is_manifest FROM manifest_references m "
      "JOIN repositories r ON r.id = m.repository_id ORDER BY r.name, m.manifest_digest");
  std::vector<reference_row> out;
  while (s.step()) out.push_back(reference_row{s.text(0), s.text(1), s.text(2), s.int64(3) != 0});
  if (s.failed()) return (*db)->last_error("all references");
  return out;
}

result<std::vector<meta_index::usage_row>> sqlite_meta_index::usage() {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT r.name, "
      "(SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id), "
      "(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id), "
      "(SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN "
      "  (SELECT child_digest FROM manifest_references x WHERE x.repository_id = r.id AND x.child_is_manifest = 0)) "
      "FROM repositories r ORDER BY r.name");
  std::vector<usage_row> out;
  while (s.step()) out.push_back(usage_row{s.text(0), s.int64(1), s.int64(2), s.int64(3)});
  if (s.failed()) return (*db)->last_error("usage");
  return out;
}

}  // namespace berth::meta
