#include "berth/meta/sqlite_meta_index.hpp"

#include <sqlite3.h>

#include "berth/meta/migrations.hpp"
#include "sqlite_rows.hpp"

#include <algorithm>

namespace berth::meta {
using namespace detail;

void sqlite_meta_index::release_memory() {
  pool_->close_idle_readers(2);
  sqlite3_release_memory(64 << 20);
}

result<std::unique_ptr<sqlite_meta_index>> sqlite_meta_index::open(const std::filesystem::path& db_path) {
  auto pool = connection_pool::open(db_path.string());
  if (!pool) return pool.take_error();
  {
    auto lock = (*pool)->lock_writer();
    if (auto r = migrate((*pool)->writer()); !r) return r.take_error();
  }
  return std::unique_ptr<sqlite_meta_index>(new sqlite_meta_index(std::move(pool).value()));
}

result<bool> sqlite_meta_index::repository_exists(const std::string& name) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  return repository_id_of(**db, name).has_value();
}

result<void> sqlite_meta_index::ensure_repository(const std::string& name, std::int64_t now) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  if (auto r = upsert_repository(db, name, now); !r) return r.take_error();
  return tx.commit();
}

result<std::vector<std::string>> sqlite_meta_index::list_repositories(const std::string& after, std::size_t limit) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?");
  s.bind(1, after).bind(2, static_cast<std::int64_t>(limit));
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  if (s.failed()) return (*db)->last_error("list repositories");
  return out;
}

result<std::optional<std::int64_t>> sqlite_meta_index::linked_blob_size(const std::string& repo,
                                                                        const std::string& digest) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT b.size FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id "
      "JOIN blobs b ON b.digest = rb.digest WHERE r.name = ? AND rb.digest = ?");
  s.bind(1, repo).bind(2, digest);
  if (s.step()) return std::optional<std::int64_t>(s.int64(0));
  if (s.failed()) return (*db)->last_error("blob lookup");
  return std::optional<std::int64_t>();
}

result<void> sqlite_meta_index::record_blob(const std::string& repo, const std::string& digest, std::int64_t size,
                                            std::int64_t now, const std::function<result<void>()>& publish) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto id = require_repository(db, repo);
  if (!id) return id.take_error();
  {
    auto s = db.prepare("INSERT INTO blobs(digest, size, created_at) VALUES(?, ?, ?) ON CONFLICT DO NOTHING");
    s.bind(1, digest).bind(2, size).bind(3, now);
    s.step();
    if (s.failed()) return db.last_error("insert blob");
  }
  {
    // A re-upload refreshes the link's time: it protects the blob from collection again.
    auto s = db.prepare(
        "INSERT INTO repository_blobs(repository_id, digest, linked_at) VALUES(?, ?, ?) "
        "ON CONFLICT DO UPDATE SET linked_at = excluded.linked_at");
    s.bind(1, *id).bind(2, digest).bind(3, now);
    s.step();
    if (s.failed()) return db.last_error("link blob");
  }
  if (publish) {
    if (auto r = publish(); !r) return r;
  }
  return tx.commit();
}

result<bool> sqlite_meta_index::mount_blob(const std::string& repo, const std::string& from, const std::string& digest,
                                           std::int64_t now) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r.take_error();
  auto src = repository_id_of(db, from);
  if (!src) return false;
  {
    auto s = db.prepare("SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    s.bind(1, *src).bind(2, digest);
    if (!s.step()) return false;
  }
  auto id = require_repository(db, repo);
  if (!id) return id.take_error();
  auto s = db.prepare(
      "INSERT INTO repository_blobs(repository_id, digest, linked_at) VALUES(?, ?, ?) "
      "ON CONFLICT DO UPDATE SET linked_at = excluded.linked_at");
  s.bind(1, *id).bind(2, digest).bind(3, now);
  s.step();
  if (s.failed()) return db.last_error("link blob");
  if (auto r = tx.commit(); !r) return r.take_error();
  return true;
}

result<bool> sqlite_meta_index::unlink_blob(const std::string& repo, const std::string& digest) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      "DELETE FROM repository_blobs WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, digest).bind(2, repo);
  s.step();
  if (s.failed()) return db.last_error("unlink blob");
  return sqlite3_changes(db.handle()) > 0;
}

result<void> sqlite_meta_index::create_upload(const std::string& id, const std::string& repo, std::int64_t now) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto rid = require_repository(db, repo);
  if (!rid) return rid.take_error();
  auto s = db.prepare("INSERT INTO uploads(id, repository_id, started_at, updated_at) VALUES(?, ?, ?, ?)");
  s.bind(1, id).bind(2, *rid).bind(3, now).bind(4, now);
  s.step();
  if (s.failed()) return db.last_error("insert upload");
  return tx.commit();
}

result<std::optional<upload_row>> sqlite_meta_index::find_upload(const std::string& id) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT u.id, r.name, u.started_at, u.updated_at FROM uploads u JOIN repositories r ON r.id = u.repository_id "
      "WHERE u.id = ?");
  s.bind(1, id);
  if (s.step()) return std::optional<upload_row>(upload_row{s.text(0), s.text(1), s.int64(2), s.int64(3)});
  if (s.failed()) return (*db)->last_error("find upload");
  return std::optional<upload_row>();
}

result<void> sqlite_meta_index::touch_upload(const std::string& id, std::int64_t now) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare("UPDATE uploads SET updated_at = ? WHERE id = ?");
  s.bind(1, now).bind(2, id);
  s.step();
  if (s.failed()) return db.last_error("touch upload");
  return {};
}

result<void> sqlite_meta_index::delete_upload(const std::string& id) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare("DELETE FROM uploads WHERE id = ?");
  s.bind(1, id);
  s.step();
  if (s.failed()) return db.last_error("delete upload");
  return {};
}

result<std::vector<upload_row>> sqlite_meta_index::query_uploads(const char* sql, std::optional<std::int64_t> arg) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(sql);
  if (arg) s.bind(1, *arg);
  std::vector<upload_row> out;
  while (s.step()) out.push_back(upload_row{s.text(0), s.text(1), s.int64(2), s.int64(3)});
  if (s.failed()) return (*db)->last_error("list uploads");
  return out;
}

result<std::vector<upload_row>> sqlite_meta_index::uploads_idle_since(std::int64_t before) {
  return query_uploads(
      "SELECT u.id, r.name, u.started_at, u.updated_at FROM uploads u JOIN repositories r ON r.id = u.repository_id "
      "WHERE u.updated_at < ?",
      before);
}

result<std::vector<upload_row>> sqlite_meta_index::all_uploads() {
  return query_uploads(
      "SELECT u.id, r.name, u.started_at, u.updated_at FROM uploads u JOIN repositories r ON r.id = u.repository_id",
      std::nullopt);
}

result<std::int64_t> sqlite_meta_index::count_uploads(const std::string& repo) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s =
      (*db)->prepare("SELECT COUNT(*) FROM uploads WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, repo);
  if (s.step()) return s.int64(0);
  return (*db)->last_error("count uploads");
}

result<std::optional<manifest_row>> sqlite_meta_index::manifest_by_digest(const std::string& repo,
                                                                          const std::string& digest) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT m.digest, m.media_type, m.size, m.content, m.pushed_at, m.storage_class = 'ARCHIVE' FROM manifests m "
      "JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ?");
  s.bind(1, repo).bind(2, digest);
  if (s.step()) {
    return std::optional<manifest_row>(
        manifest_row{s.text(0), s.text(1), s.int64(2), s.blob(3), s.int64(4), s.int64(5) != 0});
  }
  if (s.failed()) return (*db)->last_error("manifest lookup");
  return std::optional<manifest_row>();
}

result<std::optional<manifest_row>> sqlite_meta_index::manifest_by_tag(const std::string& repo,
                                                                       const std::string& tag) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT m.digest, m.media_type, m.size, m.content, m.pushed_at, m.storage_class = 'ARCHIVE' FROM repositories r "
      "JOIN tags t ON t.repository_id = r.id "
      "JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest WHERE r.name = ? AND t.name = ?");
  s.bind(1, repo).bind(2, tag);
  if (s.step()) {
    return std::optional<manifest_row>(
        manifest_row{s.text(0), s.text(1), s.int64(2), s.blob(3), s.int64(4), s.int64(5) != 0});
  }
  if (s.failed()) return (*db)->last_error("manifest lookup");
  return std::optional<manifest_row>();
}

result<void> sqlite_meta_index::put_manifest(const manifest_write& m) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto rid = require_repository(db, m.repository);
  if (!rid) return rid.take_error();
  for (const auto& b : m.blob_refs) {
    auto s = db.prepare("SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?");
    s.bind(1, *rid).bind(2, b);
    if (!s.step()) return make_error(errc::manifest_blob_unknown, "blob unknown to registry: " + b, digest_detail{b});
  }
  std::int64_t image_size = m.image_size;
  for (const auto& c : m.manifest_refs) {
    auto s = db.prepare("SELECT image_size FROM manifests WHERE repository_id = ? AND digest = ?");
    s.bind(1, *rid).bind(2, c);
    if (!s.step()) return make_error(errc::referenced_images_not_found, "manifest unknown to registry: " + c, digest_detail{c});
    if (m.image_size_from_children) image_size = std::max(image_size, s.int64(0));
  }
  for (const auto& t : m.immutable_tags) {
    auto s = db.prepare("SELECT digest FROM tags WHERE repository_id = ? AND name = ?");
    s.bind(1, *rid).bind(2, t);
    if (s.step() && s.text(0) != m.digest) return make_error(errc::tag_immutable, t, tag_detail{t});
  }
  {
    // Re-pushing identical bytes keeps the original push time.
    auto s = db.prepare(
        "INSERT INTO manifests(repository_id, digest, media_type, size, content, artifact_type, subject, annotations, "
        "pushed_at, image_size, config_media_type) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(repository_id, digest) DO NOTHING");
    s.bind(1, *rid).bind(2, m.digest).bind(3, m.media_type).bind(4, static_cast<std::int64_t>(m.content.size()));
    s.bind_blob(5, m.content).bind_opt(6, m.artifact_type).bind_opt(7, m.subject).bind_opt(8, m.annotations);
    s.bind(9, m.pushed_at).bind(10, image_size).bind_opt(11, m.config_media_type);
    s.step();
    if (s.failed()) return db.last_error("insert manifest");
  }
  auto add_ref = [&](const std::string& child, bool is_manifest) -> result<void> {
    auto s = db.prepare(
        "INSERT INTO manifest_references(repository_id, manifest_digest, child_digest, child_is_manifest) "
        "VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING");
    s.bind(1, *rid).bind(2, m.digest).bind(3, child).bind(4, is_manifest ? 1 : 0);
    s.step();
    if (s.failed()) return db.last_error("insert manifest reference");
    return {};
  };
  for (const auto& b : m.blob_refs) {
    if (auto r = add_ref(b, false); !r) return r;
  }
  for (const auto& c : m.manifest_refs) {
    if (auto r = add_ref(c, true); !r) return r;
  }
  for (const auto& t : m.tags) {
    auto s = db.prepare(
        "INSERT INTO tags(repository_id, name, digest, updated_at) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at");
    s.bind(1, *rid).bind(2, t).bind(3, m.digest).bind(4, m.pushed_at);
    s.step();
    if (s.failed()) return db.last_error("tag manifest");
  }
  return tx.commit();
}

result<bool> sqlite_meta_index::delete_manifest(const std::string& repo, const std::string& digest) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      "DELETE FROM manifests WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, digest).bind(2, repo);
  s.step();
  if (s.failed()) return db.last_error("delete manifest");
  return sqlite3_changes(db.handle()) > 0;
}

result<bool> sqlite_meta_index::delete_tag(const std::string& repo, const std::string& tag) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s =
      db.prepare("DELETE FROM tags WHERE name = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)");
  s.bind(1, tag).bind(2, repo);
  s.step();
  if (s.failed()) return db.last_error("delete tag");
  return sqlite3_changes(db.handle()) > 0;
}

result<std::vector<std::string>> sqlite_meta_index::list_tags(const std::string& repo, const std::string& after,
                                                              std::size_t limit) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT t.name FROM tags t WHERE t.repository_id = (SELECT id FROM repositories WHERE name = ?) AND t.name > ? "
      "ORDER BY t.name LIMIT ?");
  s.bind(1, repo).bind(2, after).bind(3, static_cast<std::int64_t>(limit));
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  if (s.failed()) return (*db)->last_error("list tags");
  return out;
}

result<std::vector<referrer_row>> sqlite_meta_index::referrers(const std::string& repo, const std::string& subject) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m "
      "WHERE m.repository_id = (SELECT id FROM repositories WHERE name = ?) AND m.subject = ? ORDER BY m.digest");
  s.bind(1, repo).bind(2, subject);
  std::vector<referrer_row> out;
  while (s.step()) out.push_back(referrer_row{s.text(0), s.text(1), s.int64(2), s.text(3), s.text(4)});
  if (s.failed()) return (*db)->last_error("referrers");
  return out;
}

}  // namespace berth::meta
