#include "berth/meta/sqlite_meta_index.hpp"

#include "berth/meta/migrations.hpp"

#include <algorithm>

namespace berth::meta {
namespace {

// Inserts the repository if missing; the caller holds the writer inside a transaction.
result<std::int64_t> upsert_repository(sqlite_connection& db, const std::string& name, std::int64_t now) {
  auto ins = db.prepare("INSERT INTO repositories(name, created_at) VALUES(?, ?) ON CONFLICT(name) DO NOTHING");
  ins.bind(1, name).bind(2, now);
  ins.step();
  if (ins.failed()) return db.last_error("insert repository");
  auto sel = db.prepare("SELECT id FROM repositories WHERE name = ?");
  sel.bind(1, name);
  if (!sel.step()) return db.last_error("select repository");
  return sel.int64(0);
}

std::optional<std::int64_t> repository_id_of(sqlite_connection& db, const std::string& name) {
  auto sel = db.prepare("SELECT id FROM repositories WHERE name = ?");
  sel.bind(1, name);
  if (!sel.step()) return std::nullopt;
  return sel.int64(0);
}

// Writes never create repositories implicitly: creation is a rule of the domain.
result<std::int64_t> require_repository(sqlite_connection& db, const std::string& name) {
  auto id = repository_id_of(db, name);
  if (!id) return make_error(errc::name_unknown, name);
  return *id;
}

repository_row read_repository(const statement& s) {
  repository_row r;
  r.name = s.text(0);
  r.created_at = s.int64(1);
  r.settings.image_tag_mutability = s.text(2);
  r.settings.mutability_exclusions = s.text(3);
  r.settings.scan_on_push = s.int64(4) != 0;
  r.settings.encryption_type = s.text(5);
  r.settings.kms_key = s.text(6);
  return r;
}

}  // namespace

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

result<bool> sqlite_meta_index::mount_blob(const std::string& repo, const std::string& from,
                                           const std::string& digest, std::int64_t now) {
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
  auto s = (*db)->prepare("SELECT COUNT(*) FROM uploads WHERE repository_id = (SELECT id FROM repositories WHERE name = ?)");
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
    return std::optional<manifest_row>(manifest_row{s.text(0), s.text(1), s.int64(2), s.blob(3), s.int64(4), s.int64(5) != 0});
  }
  if (s.failed()) return (*db)->last_error("manifest lookup");
  return std::optional<manifest_row>();
}

result<std::optional<manifest_row>> sqlite_meta_index::manifest_by_tag(const std::string& repo, const std::string& tag) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT m.digest, m.media_type, m.size, m.content, m.pushed_at, m.storage_class = 'ARCHIVE' FROM repositories r "
      "JOIN tags t ON t.repository_id = r.id "
      "JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest WHERE r.name = ? AND t.name = ?");
  s.bind(1, repo).bind(2, tag);
  if (s.step()) {
    return std::optional<manifest_row>(manifest_row{s.text(0), s.text(1), s.int64(2), s.blob(3), s.int64(4), s.int64(5) != 0});
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
    if (!s.step()) return make_error(errc::manifest_blob_unknown, "blob unknown to registry: " + b, b);
  }
  std::int64_t image_size = m.image_size;
  for (const auto& c : m.manifest_refs) {
    auto s = db.prepare("SELECT image_size FROM manifests WHERE repository_id = ? AND digest = ?");
    s.bind(1, *rid).bind(2, c);
    if (!s.step()) return make_error(errc::referenced_images_not_found, "manifest unknown to registry: " + c, c);
    if (m.image_size_from_children) image_size = std::max(image_size, s.int64(0));
  }
  for (const auto& t : m.immutable_tags) {
    auto s = db.prepare("SELECT digest FROM tags WHERE repository_id = ? AND name = ?");
    s.bind(1, *rid).bind(2, t);
    if (s.step() && s.text(0) != m.digest) return make_error(errc::tag_immutable, t, t);
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
  auto s = db.prepare(
      "DELETE FROM tags WHERE name = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)");
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

// ---- repositories (ECR) --------------------------------------------------------------------------

result<void> sqlite_meta_index::create_repository(const std::string& name, const repository_settings& settings,
                                                  const resource_tags& tags, std::int64_t now) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  if (repository_id_of(db, name)) return make_error(errc::repository_already_exists, name);
  auto s = db.prepare(
      "INSERT INTO repositories(name, created_at, image_tag_mutability, mutability_exclusions, scan_on_push, "
      "encryption_type, kms_key) VALUES(?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, name).bind(2, now).bind(3, settings.image_tag_mutability).bind(4, settings.mutability_exclusions);
  s.bind(5, std::int64_t{settings.scan_on_push ? 1 : 0}).bind(6, settings.encryption_type).bind(7, settings.kms_key);
  s.step();
  if (s.failed()) return db.last_error("create repository");
  auto id = sqlite3_last_insert_rowid(db.handle());
  for (const auto& [k, v] : tags) {
    auto t = db.prepare("INSERT INTO repository_tags(repository_id, key, value) VALUES(?, ?, ?) "
                        "ON CONFLICT(repository_id, key) DO UPDATE SET value = excluded.value");
    t.bind(1, id).bind(2, k).bind(3, v);
    t.step();
    if (t.failed()) return db.last_error("tag repository");
  }
  return tx.commit();
}

result<std::optional<repository_row>> sqlite_meta_index::find_repository(const std::string& name) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT name, created_at, image_tag_mutability, mutability_exclusions, scan_on_push, encryption_type, kms_key "
      "FROM repositories WHERE name = ?");
  s.bind(1, name);
  if (s.step()) return std::optional<repository_row>(read_repository(s));
  if (s.failed()) return (*db)->last_error("find repository");
  return std::optional<repository_row>();
}

result<std::vector<repository_row>> sqlite_meta_index::list_repository_rows(const std::string& after,
                                                                            std::size_t limit) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT name, created_at, image_tag_mutability, mutability_exclusions, scan_on_push, encryption_type, kms_key "
      "FROM repositories WHERE name > ? ORDER BY name LIMIT ?");
  s.bind(1, after).bind(2, static_cast<std::int64_t>(limit));
  std::vector<repository_row> out;
  while (s.step()) out.push_back(read_repository(s));
  if (s.failed()) return (*db)->last_error("list repositories");
  return out;
}

result<void> sqlite_meta_index::update_repository_settings(const std::string& name,
                                                           const repository_settings& settings) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      "UPDATE repositories SET image_tag_mutability = ?, mutability_exclusions = ?, scan_on_push = ?, "
      "encryption_type = ?, kms_key = ? WHERE name = ?");
  s.bind(1, settings.image_tag_mutability).bind(2, settings.mutability_exclusions);
  s.bind(3, std::int64_t{settings.scan_on_push ? 1 : 0}).bind(4, settings.encryption_type).bind(5, settings.kms_key);
  s.bind(6, name);
  s.step();
  if (s.failed()) return db.last_error("update repository");
  if (sqlite3_changes(db.handle()) == 0) return make_error(errc::name_unknown, name);
  return {};
}

result<repository_row> sqlite_meta_index::delete_repository(const std::string& name, bool force) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r.take_error();
  repository_row row;
  std::int64_t id = 0;
  {
    auto s = db.prepare(
        "SELECT name, created_at, image_tag_mutability, mutability_exclusions, scan_on_push, encryption_type, kms_key, id "
        "FROM repositories WHERE name = ?");
    s.bind(1, name);
    if (!s.step()) return make_error(errc::name_unknown, name);
    row = read_repository(s);
    id = s.int64(7);
  }
  if (!force) {
    auto s = db.prepare("SELECT 1 FROM manifests WHERE repository_id = ? LIMIT 1");
    s.bind(1, id);
    if (s.step()) return make_error(errc::repository_not_empty, name);
  }
  // Children first: the foreign keys between them are not all declared with cascades.
  for (auto sql : {"DELETE FROM lifecycle_policies WHERE repository_id = ?",
                   "DELETE FROM lifecycle_previews WHERE repository_id = ?",
                   "DELETE FROM tags WHERE repository_id = ?", "DELETE FROM manifest_references WHERE repository_id = ?",
                   "DELETE FROM manifests WHERE repository_id = ?", "DELETE FROM repository_blobs WHERE repository_id = ?",
                   "DELETE FROM uploads WHERE repository_id = ?", "DELETE FROM repository_tags WHERE repository_id = ?",
                   "DELETE FROM repositories WHERE id = ?"}) {
    auto s = db.prepare(sql);
    s.bind(1, id);
    s.step();
    if (s.failed()) return db.last_error("delete repository");
  }
  if (auto r = tx.commit(); !r) return r.take_error();
  return row;
}

result<resource_tags> sqlite_meta_index::repository_tags(const std::string& name) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  if (!repository_id_of(**db, name)) return make_error(errc::name_unknown, name);
  auto s = (*db)->prepare(
      "SELECT key, value FROM repository_tags WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) "
      "ORDER BY key");
  s.bind(1, name);
  resource_tags out;
  while (s.step()) out.emplace_back(s.text(0), s.text(1));
  if (s.failed()) return (*db)->last_error("repository tags");
  return out;
}

result<void> sqlite_meta_index::tag_repository(const std::string& name, const resource_tags& tags,
                                               std::size_t max_tags) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto id = require_repository(db, name);
  if (!id) return id.take_error();
  for (const auto& [k, v] : tags) {
    auto t = db.prepare("INSERT INTO repository_tags(repository_id, key, value) VALUES(?, ?, ?) "
                        "ON CONFLICT(repository_id, key) DO UPDATE SET value = excluded.value");
    t.bind(1, *id).bind(2, k).bind(3, v);
    t.step();
    if (t.failed()) return db.last_error("tag repository");
  }
  auto c = db.prepare("SELECT COUNT(*) FROM repository_tags WHERE repository_id = ?");
  c.bind(1, *id);
  if (c.step() && static_cast<std::size_t>(c.int64(0)) > max_tags) return make_error(errc::too_many_tags, name);
  return tx.commit();
}

result<void> sqlite_meta_index::untag_repository(const std::string& name, const std::vector<std::string>& keys) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  auto id = require_repository(db, name);
  if (!id) return id.take_error();
  for (const auto& k : keys) {
    auto t = db.prepare("DELETE FROM repository_tags WHERE repository_id = ? AND key = ?");
    t.bind(1, *id).bind(2, k);
    t.step();
    if (t.failed()) return db.last_error("untag repository");
  }
  return tx.commit();
}

// ---- images (ECR) ------------------------------------------------------------------------------

result<std::vector<image_row>> sqlite_meta_index::images(const std::string& repo) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto rid = repository_id_of(**db, repo);
  if (!rid) return make_error(errc::name_unknown, repo);
  std::vector<image_row> out;
  {
    auto s = (*db)->prepare(
        "SELECT digest, media_type, COALESCE(config_media_type, ''), COALESCE(artifact_type, ''), COALESCE(subject, ''), "
        "size, image_size, pushed_at, COALESCE(last_pulled_at, 0), storage_class = 'ARCHIVE', "
        "COALESCE(last_archived_at, 0), COALESCE(last_activated_at, 0) FROM manifests WHERE repository_id = ? "
        "ORDER BY digest");
    s.bind(1, *rid);
    while (s.step()) {
      image_row r;
      r.digest = s.text(0);
      r.media_type = s.text(1);
      r.config_media_type = s.text(2);
      r.artifact_type = s.text(3);
      r.subject = s.text(4);
      r.manifest_size = s.int64(5);
      r.image_size = s.int64(6);
      r.pushed_at = s.int64(7);
      r.last_pulled_at = s.int64(8);
      r.archived = s.int64(9) != 0;
      r.last_archived_at = s.int64(10);
      r.last_activated_at = s.int64(11);
      out.push_back(std::move(r));
    }
    if (s.failed()) return (*db)->last_error("list images");
  }
  auto s = (*db)->prepare("SELECT digest, name FROM tags WHERE repository_id = ? ORDER BY digest, name");
  s.bind(1, *rid);
  std::size_t i = 0;
  while (s.step()) {
    auto d = s.text(0);
    while (i < out.size() && out[i].digest < d) ++i;
    if (i < out.size() && out[i].digest == d) out[i].tags.push_back(s.text(1));
  }
  if (s.failed()) return (*db)->last_error("list image tags");
  return out;
}

result<std::vector<std::string>> sqlite_meta_index::parent_indexes(const std::string& repo, const std::string& digest) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare(
      "SELECT manifest_digest FROM manifest_references WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) "
      "AND child_digest = ? AND child_is_manifest = 1 ORDER BY manifest_digest");
  s.bind(1, repo).bind(2, digest);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  if (s.failed()) return (*db)->last_error("parent indexes");
  return out;
}

result<void> sqlite_meta_index::record_pulls(const std::vector<std::pair<std::string, std::string>>& repo_digest,
                                             std::int64_t when) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  for (const auto& [repo, digest] : repo_digest) {
    auto s = db.prepare(
        "UPDATE manifests SET last_pulled_at = ? WHERE digest = ? AND "
        "repository_id = (SELECT id FROM repositories WHERE name = ?)");
    s.bind(1, when).bind(2, digest).bind(3, repo);
    s.step();
    if (s.failed()) return db.last_error("record pull");
  }
  return tx.commit();
}

result<bool> sqlite_meta_index::record_upload_part(const std::string& id, std::int64_t size, std::int64_t min_size) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare(
      "UPDATE uploads SET small_part_followed = small_part_followed OR (last_part_size >= 0 AND last_part_size < ?), "
      "last_part_size = ? WHERE id = ? RETURNING small_part_followed");
  s.bind(1, min_size).bind(2, size).bind(3, id);
  if (s.step()) return s.int64(0) != 0;
  if (s.failed()) return db.last_error("record upload part");
  return make_error(errc::blob_upload_unknown, id);
}

result<bool> sqlite_meta_index::upload_has_small_part(const std::string& id) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare("SELECT small_part_followed FROM uploads WHERE id = ?");
  s.bind(1, id);
  if (s.step()) return s.int64(0) != 0;
  return make_error(errc::blob_upload_unknown, id);
}

// ---- creation templates and account settings ---------------------------------------------------

result<void> sqlite_meta_index::put_template(const template_row& t, bool create) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  if (create) {
    auto s = db.prepare(
        "INSERT INTO creation_templates(prefix, document, created_at, updated_at) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(prefix) DO NOTHING");
    s.bind(1, t.prefix).bind(2, t.document).bind(3, t.created_at).bind(4, t.updated_at);
    s.step();
    if (s.failed()) return db.last_error("create template");
    if (sqlite3_changes(db.handle()) == 0) return make_error(errc::template_already_exists, t.prefix);
    return {};
  }
  auto s = db.prepare("UPDATE creation_templates SET document = ?, updated_at = ? WHERE prefix = ?");
  s.bind(1, t.document).bind(2, t.updated_at).bind(3, t.prefix);
  s.step();
  if (s.failed()) return db.last_error("update template");
  if (sqlite3_changes(db.handle()) == 0) return make_error(errc::template_not_found, t.prefix);
  return {};
}

result<std::vector<template_row>> sqlite_meta_index::templates() {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare("SELECT prefix, document, created_at, updated_at FROM creation_templates ORDER BY prefix");
  std::vector<template_row> out;
  while (s.step()) out.push_back(template_row{s.text(0), s.text(1), s.int64(2), s.int64(3)});
  if (s.failed()) return (*db)->last_error("list templates");
  return out;
}

result<bool> sqlite_meta_index::delete_template(const std::string& prefix) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare("DELETE FROM creation_templates WHERE prefix = ?");
  s.bind(1, prefix);
  s.step();
  if (s.failed()) return db.last_error("delete template");
  return sqlite3_changes(db.handle()) > 0;
}

result<std::optional<std::string>> sqlite_meta_index::account_setting(const std::string& name) {
  auto db = pool_->reader();
  if (!db) return db.take_error();
  auto s = (*db)->prepare("SELECT value FROM account_settings WHERE name = ?");
  s.bind(1, name);
  if (s.step()) return std::optional<std::string>(s.text(0));
  return std::optional<std::string>();
}

result<void> sqlite_meta_index::put_account_setting(const std::string& name, const std::string& value) {
  auto lock = pool_->lock_writer();
  auto& db = pool_->writer();
  auto s = db.prepare("INSERT INTO account_settings(name, value) VALUES(?, ?) "
                      "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  s.bind(1, name).bind(2, value);
  s.step();
  if (s.failed()) return db.last_error("account setting");
  return {};
}

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
