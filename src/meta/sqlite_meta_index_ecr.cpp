// The metadata index, continued: ECR repositories and their settings, images, creation templates,
// account settings.
#include "berth/meta/sqlite_meta_index.hpp"
#include "sqlite_rows.hpp"

namespace berth::meta {

using namespace detail;

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

}  // namespace berth::meta
