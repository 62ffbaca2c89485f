#include "berth/meta/migrations.hpp"

#include <array>
#include <string>

namespace berth::meta {
namespace {

constexpr std::array steps = {
    // 1: the V2 core.
    R"sql(
CREATE TABLE repositories(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL);
CREATE TABLE blobs(
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE repository_blobs(
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs(digest),
  linked_at INTEGER NOT NULL,
  PRIMARY KEY(repository_id, digest)) WITHOUT ROWID;
CREATE TABLE manifests(
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  content BLOB NOT NULL,
  artifact_type TEXT,
  subject TEXT,
  annotations TEXT,
  pushed_at INTEGER NOT NULL,
  last_pulled_at INTEGER,
  PRIMARY KEY(repository_id, digest));
CREATE INDEX manifests_by_subject ON manifests(repository_id, subject) WHERE subject IS NOT NULL;
CREATE TABLE manifest_references(
  repository_id INTEGER NOT NULL,
  manifest_digest TEXT NOT NULL,
  child_digest TEXT NOT NULL,
  child_is_manifest INTEGER NOT NULL,
  PRIMARY KEY(repository_id, manifest_digest, child_digest, child_is_manifest),
  FOREIGN KEY(repository_id, manifest_digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE)
  WITHOUT ROWID;
CREATE INDEX manifest_references_by_child ON manifest_references(repository_id, child_digest);
CREATE TABLE tags(
  repository_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(repository_id, name),
  FOREIGN KEY(repository_id, digest) REFERENCES manifests(repository_id, digest) ON DELETE CASCADE)
  WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags(repository_id, digest);
CREATE TABLE uploads(
  id TEXT PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // 2: ECR: repository settings and resource tags, image sizes, creation templates, account
    // settings, layer-part bookkeeping.
    R"sql(
ALTER TABLE repositories ADD COLUMN image_tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE';
ALTER TABLE repositories ADD COLUMN mutability_exclusions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE repositories ADD COLUMN scan_on_push INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN encryption_type TEXT NOT NULL DEFAULT 'AES256';
ALTER TABLE repositories ADD COLUMN kms_key TEXT NOT NULL DEFAULT '';
CREATE TABLE repository_tags(
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(repository_id, key)) WITHOUT ROWID;
ALTER TABLE manifests ADD COLUMN image_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN config_media_type TEXT;
CREATE TABLE creation_templates(
  prefix TEXT PRIMARY KEY,
  document TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE account_settings(
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL) WITHOUT ROWID;
ALTER TABLE uploads ADD COLUMN last_part_size INTEGER NOT NULL DEFAULT -1;
ALTER TABLE uploads ADD COLUMN small_part_followed INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: lifecycle policies and previews, the archive storage class.
    R"sql(
CREATE TABLE lifecycle_policies(
  repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  last_evaluated_at INTEGER);
CREATE TABLE lifecycle_previews(
  repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  text TEXT NOT NULL,
  status TEXT NOT NULL,
  results TEXT NOT NULL DEFAULT '[]',
  started_at INTEGER NOT NULL);
ALTER TABLE manifests ADD COLUMN storage_class TEXT NOT NULL DEFAULT 'STANDARD';
ALTER TABLE manifests ADD COLUMN last_archived_at INTEGER;
ALTER TABLE manifests ADD COLUMN last_activated_at INTEGER;
CREATE INDEX blobs_by_age ON blobs(created_at);
)sql",
    // 4: the seams of a shared backend: blobs marked while garbage collection removes them, upload
    // sessions that carry their running hash, leases for the duties one process does at a time.
    R"sql(
ALTER TABLE blobs ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN deleting_by TEXT NOT NULL DEFAULT '';
ALTER TABLE blobs ADD COLUMN deleting_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN hash_state BLOB;
ALTER TABLE uploads ADD COLUMN store_epoch TEXT NOT NULL DEFAULT '';
CREATE INDEX uploads_by_repository ON uploads(repository_id);
CREATE TABLE leases(
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL) WITHOUT ROWID;
)sql",
};

}  // namespace

int latest_schema_version() { return static_cast<int>(steps.size()); }

result<void> migrate(sqlite_connection& db) {
  if (auto r = db.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
      !r) {
    return r;
  }
  int current = 0;
  {
    auto s = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (s.step()) current = static_cast<int>(s.int64(0));
  }
  if (current > latest_schema_version()) {
    return make_error(errc::internal, "metadata schema version " + std::to_string(current) +
                                          " is newer than this berth understands (" +
                                          std::to_string(latest_schema_version()) + ")");
  }
  for (int v = current + 1; v <= latest_schema_version(); ++v) {
    transaction tx(db);
    if (auto r = tx.begin(); !r) return r;
    if (auto r = db.exec(steps[static_cast<std::size_t>(v - 1)]); !r) return r;
    auto ins = db.prepare("INSERT INTO schema_migrations(version, applied_at) VALUES(?, strftime('%s','now'))");
    ins.bind(1, static_cast<std::int64_t>(v));
    ins.step();
    if (ins.failed()) return db.last_error("record migration");
    if (auto r = tx.commit(); !r) return r;
  }
  return {};
}

}  // namespace berth::meta
