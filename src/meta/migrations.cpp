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
    // 5: claims of upload sessions as data, for servers that share the database (SQLite keeps
    // them in its one process).
    R"sql(
ALTER TABLE uploads ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
)sql",
    // 6: the registry's own secrets, for servers that share the database (SQLite's data directory
    // keeps them as files).
    R"sql(
CREATE TABLE secrets(
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // 7: the digest a session is writing to its content address, until when: garbage collection
    // does not begin removing bytes a commit is writing (see upload_index::reserve_commit).
    R"sql(
ALTER TABLE uploads ADD COLUMN committing_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN committing_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX uploads_by_committing_digest ON uploads(committing_digest);
)sql",
    // 8: identities and the documents authorization reads: IAM users (names unique in any case:
    // name_key is the lower-cased name), access keys with sealed secrets, groups, inline
    // policies, repository and registry policies, pull-time exclusions, and the generation
    // counter every change to them bumps.
    R"sql(
CREATE TABLE iam_users(
  name_key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  user_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  basic_pull INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE iam_access_keys(
  access_key_id TEXT PRIMARY KEY,
  user_key TEXT NOT NULL REFERENCES iam_users(name_key),
  sealed_secret TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX iam_access_keys_by_user ON iam_access_keys(user_key);
CREATE TABLE iam_groups(
  name_key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  group_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE iam_group_members(
  group_key TEXT NOT NULL REFERENCES iam_groups(name_key),
  user_key TEXT NOT NULL REFERENCES iam_users(name_key),
  PRIMARY KEY(group_key, user_key)) WITHOUT ROWID;
CREATE INDEX iam_group_members_by_user ON iam_group_members(user_key);
CREATE TABLE iam_inline_policies(
  owner_kind TEXT NOT NULL,
  owner_key TEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY(owner_kind, owner_key, name)) WITHOUT ROWID;
CREATE TABLE repository_policies(
  repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  document TEXT NOT NULL);
CREATE TABLE registry_policy(
  slot INTEGER PRIMARY KEY CHECK (slot = 1),
  document TEXT NOT NULL);
CREATE TABLE pull_time_exclusions(
  principal_arn TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE access_generation(
  slot INTEGER PRIMARY KEY CHECK (slot = 1),
  value INTEGER NOT NULL);
INSERT INTO access_generation(slot, value) VALUES(1, 0);
)sql",
    // 9: when a resource policy was stored, and the ids of the users it names then (JSON object ARN →
    // user id): IAM binds a named user to the user who existed, not to one created later under the
    // same name.
    R"sql(
ALTER TABLE repository_policies ADD COLUMN stored_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repository_policies ADD COLUMN principal_ids TEXT NOT NULL DEFAULT '{}';
ALTER TABLE registry_policy ADD COLUMN stored_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registry_policy ADD COLUMN principal_ids TEXT NOT NULL DEFAULT '{}';
)sql",
    // 10: secrets kept through the Secrets Manager API (values sealed by the domain), their
    // versions with staging labels, the pull-through cache rules that name them, the cache's
    // pending imports and when each cached tag was last compared with its upstream.
    R"sql(
CREATE TABLE vault_secrets(
  name TEXT PRIMARY KEY,
  arn TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  kms_key_id TEXT NOT NULL,
  tags TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL,
  accessed_at INTEGER NOT NULL,
  deletion_date INTEGER NOT NULL,
  revision INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE vault_versions(
  secret_name TEXT NOT NULL REFERENCES vault_secrets(name),
  version_id TEXT NOT NULL,
  sealed_value TEXT NOT NULL,
  stages TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(secret_name, version_id)) WITHOUT ROWID;
CREATE TABLE pull_through_rules(
  prefix TEXT PRIMARY KEY,
  upstream_url TEXT NOT NULL,
  upstream_registry TEXT NOT NULL,
  credential_arn TEXT NOT NULL,
  custom_role_arn TEXT NOT NULL,
  upstream_prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE cache_imports(
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tag TEXT NOT NULL,
  media_type TEXT NOT NULL,
  content BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  holder TEXT NOT NULL,
  held_until INTEGER NOT NULL,
  PRIMARY KEY(repository, digest, tag)) WITHOUT ROWID;
CREATE INDEX cache_imports_due ON cache_imports(next_at);
CREATE TABLE cache_tag_checks(
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  checked_at INTEGER NOT NULL,
  PRIMARY KEY(repository, tag)) WITHOUT ROWID;
)sql",
    // 11: replication: a job per (image, tag, destination), written with the manifest and kept
    // for DescribeImageReplicationStatus, and which repository on a destination holds a blob
    // (mounted from there into another repository instead of sent again).
    R"sql(
CREATE TABLE replication_jobs(
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tag TEXT NOT NULL,
  region TEXT NOT NULL,
  registry_id TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  failure TEXT NOT NULL,
  generation INTEGER NOT NULL,
  holder TEXT NOT NULL,
  held_until INTEGER NOT NULL,
  PRIMARY KEY(repository, digest, region, registry_id, tag)) WITHOUT ROWID;
CREATE INDEX replication_jobs_due ON replication_jobs(status, next_at);
CREATE TABLE replicated_blobs(
  region TEXT NOT NULL,
  registry_id TEXT NOT NULL,
  digest TEXT NOT NULL,
  repository TEXT NOT NULL,
  PRIMARY KEY(region, registry_id, digest)) WITHOUT ROWID;
)sql",
    // 12: the event outbox: each event written with the change it announces, until delivered; the
    // id orders the events of one webhook and repository.
    R"sql(
CREATE TABLE event_outbox(
  id INTEGER PRIMARY KEY,
  webhook TEXT NOT NULL,
  repository TEXT NOT NULL,
  event_id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  holder TEXT NOT NULL,
  held_until INTEGER NOT NULL);
CREATE INDEX event_outbox_order ON event_outbox(webhook, repository, id);
)sql",
    // 13: garbage collection and blob deletion look references and links up by digest alone (and
    // the blobs foreign key of repository_blobs checks by digest): without these indexes each such
    // lookup scanned the whole table, once per blob collected.
    R"sql(
CREATE INDEX manifest_references_by_child_digest ON manifest_references(child_digest, child_is_manifest);
CREATE INDEX repository_blobs_by_digest ON repository_blobs(digest, linked_at);
)sql",
};

// The key of the advisory lock migrations hold ("berth" in ASCII).
constexpr const char* migration_lock = "SELECT pg_advisory_lock(448345880680)";
constexpr const char* migration_unlock = "SELECT pg_advisory_unlock(448345880680)";

bool word_at(std::string_view s, std::size_t i, std::string_view w) {
  auto is_word = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (s.substr(i, w.size()) != w) return false;
  if (i > 0 && is_word(s[i - 1])) return false;
  return i + w.size() == s.size() || !is_word(s[i + w.size()]);
}

result<void> too_new(int current) {
  return make_error(errc::internal, "metadata schema version " + std::to_string(current) +
                                        " is newer than this berth understands (" +
                                        std::to_string(latest_schema_version()) + ")");
}

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
  if (current > latest_schema_version()) return too_new(current);
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

std::string pg_ddl(std::string_view in) {
  // Whole upper-case words only: column names (`text`, `id`) are lower case.
  static constexpr std::pair<std::string_view, std::string_view> words[] = {
      {"id INTEGER PRIMARY KEY", "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
      {"WITHOUT ROWID", ""},
      {"INTEGER", "BIGINT"},
      {"BLOB", "BYTEA"},
      {"TEXT", "TEXT COLLATE \"C\""},
  };
  std::string out;
  out.reserve(in.size() + in.size() / 4);
  for (std::size_t i = 0; i < in.size();) {
    bool replaced = false;
    for (const auto& [from, to] : words) {
      if (word_at(in, i, from)) {
        out += to;
        i += from.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(in[i++]);
  }
  return out;
}

result<void> migrate(pg_connection& db) {
  if (auto r = db.exec(migration_lock); !r) return r;
  auto outcome = [&]() -> result<void> {
    if (auto r = db.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version BIGINT PRIMARY KEY, applied_at BIGINT "
                         "NOT NULL)");
        !r) {
      return r;
    }
    auto current = db.one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", int_column);
    if (!current) return current.take_error();
    const int have = static_cast<int>(current->value_or(0));
    if (have > latest_schema_version()) return too_new(have);
    for (int v = have + 1; v <= latest_schema_version(); ++v) {
      const auto ddl = pg_ddl(steps[static_cast<std::size_t>(v - 1)]);
      if (auto r = db.exec("BEGIN"); !r) return r;
      auto step = [&]() -> result<void> {
        if (auto r = db.exec(ddl.c_str()); !r) return r;
        auto ins = db.run(
            "INSERT INTO schema_migrations(version, applied_at) VALUES(?, "
            "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))",
            v);
        if (!ins) return ins.take_error();
        return db.exec("COMMIT");
      }();
      if (!step) {
        (void)db.exec("ROLLBACK");
        return step;
      }
    }
    return {};
  }();
  (void)db.exec(migration_unlock);
  return outcome;
}

}  // namespace berth::meta
