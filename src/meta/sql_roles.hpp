// The metadata roles in SQL (not a public header): one class template per role, each in its own
// translation unit, written once for both dialects and instantiated for SQLite's connection_pool
// and PostgreSQL's pg_pool. The statements are SQL both engines accept; where they differ, the
// difference is in the driver (placeholders, result formats) or the migrations (types).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "berth/meta/metadata_store.hpp"
#include "berth/meta/pg_connection.hpp"
#include "berth/meta/sqlite_connection.hpp"

namespace berth::meta {

namespace sql_rows {
// Every change authorization may have cached (identities, policies, repository tags) runs this.
inline constexpr const char* bump_access_generation = "UPDATE access_generation SET value = value + 1 WHERE slot = 1";
template <class Db>
result<void> bump_access(Db& db) {
  auto n = db.run(bump_access_generation);
  if (!n) return n.take_error();
  return {};
}

// A macro, so it joins SQL string literals (the statement caches are keyed by the literal's address).
#define BERTH_REPOSITORY_COLUMNS \
  "name, created_at, image_tag_mutability, mutability_exclusions, scan_on_push, encryption_type, kms_key"

inline constexpr auto read_repository = [](const auto& s) {  // columns as BERTH_REPOSITORY_COLUMNS lists them
  repository_row r;
  r.name = s.text(0);
  r.created_at = s.int64(1);
  r.settings.image_tag_mutability = s.text(2);
  r.settings.mutability_exclusions = s.text(3);
  r.settings.scan_on_push = s.boolean(4);
  r.settings.encryption_type = s.text(5);
  r.settings.kms_key = s.text(6);
  return r;
};

// Shared by the roles' queries.
template <class Db>
std::optional<std::int64_t> repository_id(Db& db, const std::string& name) {
  auto id = db.one("SELECT id FROM repositories WHERE name = ?", int_column, name);
  if (!id) return std::nullopt;
  return *id;
}
// Writes never create repositories implicitly: creation is a rule of the domain.
template <class Db>
result<std::int64_t> require_repository(Db& db, const std::string& name) {
  auto id = repository_id(db, name);
  if (!id) return make_error(errc::name_unknown, name);
  return *id;
}
// errc::busy while garbage collection removes the digest: nothing may record or write it then.
// The outbox rows of `events`, in the caller's transaction.
template <class Db>
result<void> insert_events(Db& db, const std::vector<outbox_event>& events, std::int64_t now) {
  for (const auto& e : events) {
    auto r = db.run(
        "INSERT INTO event_outbox(webhook, repository, event_id, body, created_at, attempts, next_at, last_error, "
        "holder, held_until) VALUES(?, ?, ?, ?, ?, 0, ?, '', '', 0)",
        e.webhook, e.repository, e.event_id, e.body, now, now);
    if (!r) return r.take_error();
  }
  return {};
}
template <class Db>
result<void> require_not_being_removed(Db& db, const std::string& digest) {
  auto deleting = db.exists("SELECT 1 FROM blobs WHERE digest = ? AND deleting = 1", digest);
  if (!deleting) return deleting.take_error();
  if (*deleting) return make_error(errc::busy, "blob " + digest + " is being garbage-collected");
  return {};
}
}  // namespace sql_rows

template <class Pool>
class sql_repository_index final : public repository_index {
 public:
  explicit sql_repository_index(Pool& pool) : pool_(pool) {}
  result<void> create(const std::string& name, const repository_settings& settings, const resource_tags& tags,
                      std::int64_t now) override;
  result<std::optional<repository_row>> find(const std::string& name) override;
  result<std::vector<repository_row>> list(const std::string& after, std::size_t limit) override;
  result<std::vector<std::string>> names(const std::string& after, std::size_t limit) override;
  result<void> update_settings(const std::string& name, const repository_settings& settings) override;
  result<repository_row> remove(const std::string& name, bool force) override;
  result<resource_tags> tags(const std::string& name) override;
  result<void> tag(const std::string& name, const resource_tags& tags, std::size_t max_tags) override;
  result<void> untag(const std::string& name, const std::vector<std::string>& keys) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_image_index final : public image_index {
 public:
  explicit sql_image_index(Pool& pool) : pool_(pool) {}
  result<std::optional<manifest_row>> manifest_by_digest(const std::string& repo, const std::string& digest) override;
  result<std::optional<manifest_row>> manifest_by_tag(const std::string& repo, const std::string& tag) override;
  result<void> put_manifest(const manifest_write& m) override;
  result<std::vector<image_ref>> delete_image(const std::string& repo, const std::string& digest,
                                              const std::string& tag, const deletion_events* announce) override;
  result<bool> delete_tag(const std::string& repo, const std::string& tag, const deletion_events* announce) override;
  result<std::vector<std::string>> tags(const std::string& repo, const std::string& after, std::size_t limit) override;
  result<std::vector<image_row>> images(const std::string& repo, tag_filter filter, const std::string& after,
                                        std::size_t limit) override;
  result<std::vector<image_ref>> image_refs(const std::string& repo, tag_filter filter, const image_ref& after,
                                            std::size_t limit) override;
  result<std::optional<image_row>> find_image(const std::string& repo, const std::string& digest,
                                              const std::string& tag) override;
  result<std::vector<std::string>> parent_indexes(const std::string& repo, const std::string& digest) override;
  result<std::vector<referrer_row>> referrers(const std::string& repo, const std::string& subject) override;
  result<void> record_pulls(const std::vector<std::pair<std::string, std::string>>& repo_digest,
                            std::int64_t when) override;
  result<bool> set_storage_class(const std::string& repo, const std::string& digest, bool archived,
                                 std::int64_t now) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_blob_index final : public blob_index {
 public:
  explicit sql_blob_index(Pool& pool) : pool_(pool) {}
  result<std::optional<std::int64_t>> linked_size(const std::string& repo, const std::string& digest) override;
  result<void> record(const blob_record& r) override;
  result<bool> mount(const std::string& repo, const std::string& from, const std::string& digest,
                     std::int64_t now) override;
  result<bool> unlink(const std::string& repo, const std::string& digest) override;

 private:
  Pool& pool_;
};

// Claims: where one process is the only writer there can be (SQLite: the data-directory lock),
// they live in that process; a database servers share keeps them in the session row
// (Pool::shared_between_servers).
template <class Pool>
class sql_upload_index final : public upload_index {
 public:
  explicit sql_upload_index(Pool& pool) : pool_(pool) {}
  result<void> create(const std::string& id, const std::string& repo, std::int64_t now, std::int64_t max_sessions,
                      const std::string& store_epoch) override;
  result<std::optional<upload_row>> find(const std::string& id) override;
  result<upload_row> claim(const std::string& id, const std::string& writer, std::int64_t now,
                           std::int64_t until) override;
  void release(const std::string& id, const std::string& writer) override;
  result<bool> renew(const std::string& id, const std::string& writer, std::int64_t until) override;
  result<void> reserve_commit(const std::string& id, const std::string& digest, std::int64_t until) override;
  result<void> release_claims_of(const std::string& writer_prefix) override;
  result<void> checkpoint(const upload_checkpoint& c) override;
  result<void> remove(const std::string& id) override;
  result<std::vector<upload_row>> idle_since(std::int64_t before, std::int64_t now) override;
  result<std::vector<std::string>> ids() override;

 private:
  struct claim_state {
    std::string writer;
    std::int64_t until = 0;
  };
  bool claimed_by_other(const std::string& id, const std::string& writer, std::int64_t now);
  result<void> explain_refused_claim(const std::string& id);
  Pool& pool_;
  std::mutex claims_mutex_;
  std::map<std::string, claim_state> claims_;
};

template <class Pool>
class sql_settings_index final : public settings_index {
 public:
  explicit sql_settings_index(Pool& pool) : pool_(pool) {}
  result<void> put_template(const template_row& t, bool create) override;
  result<std::vector<template_row>> templates() override;
  result<bool> delete_template(const std::string& prefix) override;
  result<void> put_pull_through_rule(const pull_through_rule_row& r, bool create) override;
  result<std::vector<pull_through_rule_row>> pull_through_rules() override;
  result<bool> delete_pull_through_rule(const std::string& prefix) override;
  result<std::optional<std::string>> account_setting(const std::string& name) override;
  result<void> put_account_setting(const std::string& name, const std::string& value) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_lifecycle_index final : public lifecycle_index {
 public:
  explicit sql_lifecycle_index(Pool& pool) : pool_(pool) {}
  result<void> put_policy(const std::string& repo, const std::string& text) override;
  result<std::optional<lifecycle_policy_row>> policy(const std::string& repo) override;
  result<std::optional<lifecycle_policy_row>> delete_policy(const std::string& repo) override;
  result<void> mark_evaluated(const std::string& repo, std::int64_t when) override;
  result<std::vector<std::string>> repositories_with_policy() override;
  result<void> start_preview(const std::string& repo, const std::string& text, std::int64_t now,
                             std::int64_t stale_before) override;
  result<void> finish_preview(const std::string& repo, const std::string& status, const std::string& results) override;
  result<std::optional<lifecycle_preview_row>> preview(const std::string& repo) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_maintenance_index final : public maintenance_index {
 public:
  explicit sql_maintenance_index(Pool& pool) : pool_(pool) {}
  result<std::vector<blob_row>> unreferenced_blobs(std::int64_t before, const std::string& after,
                                                   std::size_t limit) override;
  result<bool> begin_delete(const std::string& digest, std::int64_t before, const deletion_claim& by) override;
  result<bool> begin_delete_unrecorded(const std::string& digest, const deletion_claim& by) override;
  result<bool> take_over_delete(const std::string& digest, const deletion_claim& by) override;
  result<void> finish_delete(const std::string& digest, const std::string& holder) override;
  result<std::vector<std::string>> abandoned_deletions(std::int64_t now) override;
  result<std::optional<blob_row>> find_blob(const std::string& digest) override;
  result<std::vector<blob_row>> blobs(const std::string& after, std::size_t limit) override;
  result<std::vector<reference_row>> references(const reference_row& after, std::size_t limit) override;
  result<std::vector<usage_row>> usage(const std::string& after, std::size_t limit) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_lease_index final : public lease_index {
 public:
  explicit sql_lease_index(Pool& pool) : pool_(pool) {}
  result<bool> acquire(const std::string& name, const std::string& holder, std::int64_t now,
                       std::int64_t until) override;
  result<void> release(const std::string& name, const std::string& holder) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_secret_index final : public secret_index {
 public:
  explicit sql_secret_index(Pool& pool) : pool_(pool) {}
  result<std::optional<std::string>> get(const std::string& name) override;
  result<std::string> put_if_absent(const std::string& name, const std::string& value, std::int64_t now) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_identity_index final : public identity_index {
 public:
  explicit sql_identity_index(Pool& pool) : pool_(pool) {}
  result<std::int64_t> generation() override;
  result<void> create_user(const user_row& u) override;
  result<std::optional<user_row>> find_user(const std::string& name) override;
  result<std::vector<user_row>> list_users(const std::string& path_prefix, const std::string& after,
                                           std::size_t limit) override;
  result<void> set_basic_pull(const std::string& name, bool on) override;
  result<void> delete_user(const std::string& name) override;
  result<void> create_access_key(const access_key_row& k, std::size_t max_per_user) override;
  result<std::optional<access_key_row>> find_access_key(const std::string& access_key_id) override;
  result<std::vector<access_key_row>> access_keys(const std::string& user) override;
  result<void> set_access_key_status(const std::string& user, const std::string& access_key_id,
                                     const std::string& status) override;
  result<void> delete_access_key(const std::string& user, const std::string& access_key_id) override;
  result<void> put_policy(const std::string& kind, const std::string& owner, const named_policy& p) override;
  result<named_policy> get_policy(const std::string& kind, const std::string& owner, const std::string& name) override;
  result<std::vector<std::string>> policy_names(const std::string& kind, const std::string& owner) override;
  result<void> delete_policy(const std::string& kind, const std::string& owner, const std::string& name) override;
  result<std::vector<std::string>> policies_of_user(const std::string& user) override;
  result<void> create_group(const group_row& g) override;
  result<std::optional<group_row>> find_group(const std::string& name) override;
  result<std::vector<group_row>> groups_of_user(const std::string& user) override;
  result<std::vector<user_row>> users_of_group(const std::string& group) override;
  result<void> add_user_to_group(const std::string& group, const std::string& user) override;
  result<void> remove_user_from_group(const std::string& group, const std::string& user) override;
  result<void> delete_group(const std::string& name) override;
  result<std::optional<stored_policy>> repository_policy(const std::string& repository) override;
  result<void> put_repository_policy(const std::string& repository, const stored_policy& p) override;
  result<bool> delete_repository_policy(const std::string& repository) override;
  result<std::optional<stored_policy>> registry_policy() override;
  result<void> put_registry_policy(const stored_policy& p) override;
  result<bool> delete_registry_policy() override;
  result<void> add_pull_exclusion(const std::string& principal_arn, std::int64_t now) override;
  result<void> remove_pull_exclusion(const std::string& principal_arn) override;
  result<std::vector<std::string>> pull_exclusions() override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_vault_index final : public vault_index {
 public:
  explicit sql_vault_index(Pool& pool) : pool_(pool) {}
  result<void> create(const vault_secret_row& secret, const std::optional<vault_version_row>& first) override;
  result<std::optional<vault_secret_row>> find(const std::string& name) override;
  result<std::vector<vault_version_row>> versions(const std::string& name) override;
  result<void> change_versions(const std::string& name, std::int64_t revision, const vault_version_change& change,
                               std::int64_t now) override;
  result<void> schedule_deletion(const std::string& name, std::int64_t revision, std::int64_t when) override;
  result<bool> remove(const std::string& name) override;
  result<void> mark_accessed(const std::string& name, std::int64_t day) override;
  result<std::vector<vault_secret_row>> list(const std::string& after, std::size_t limit) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_cache_index final : public cache_index {
 public:
  explicit sql_cache_index(Pool& pool) : pool_(pool) {}
  result<void> enqueue(const cache_import_row& r) override;
  result<std::optional<cache_import_row>> pending(const std::string& repository, const std::string& reference) override;
  result<std::optional<cache_import_row>> claim_due(const std::string& holder, std::int64_t now,
                                                    std::int64_t until) override;
  result<void> finish(const cache_import_row& r) override;
  result<void> retry(const cache_import_row& r, std::int64_t next_at, const std::string& error) override;
  result<std::optional<std::int64_t>> tag_checked_at(const std::string& repository, const std::string& tag) override;
  result<void> set_tag_checked_at(const std::string& repository, const std::string& tag, std::int64_t when) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_replication_index final : public replication_index {
 public:
  explicit sql_replication_index(Pool& pool) : pool_(pool) {}
  result<std::optional<replication_job_row>> claim_due(const std::string& holder, std::int64_t now,
                                                       std::int64_t until) override;
  result<void> complete(const replication_job_row& r) override;
  result<void> retry(const replication_job_row& r, std::int64_t next_at, const std::string& error) override;
  result<void> fail(const replication_job_row& r, const std::string& failure_code) override;
  result<bool> extend(const replication_job_row& r, const std::string& holder, std::int64_t until) override;
  result<void> release(const std::string& holder) override;
  result<void> drop(const replication_job_row& r) override;
  result<std::vector<replication_job_row>> jobs_of(const std::string& repository, const std::string& digest) override;
  result<std::optional<std::string>> blob_holder(const std::string& region, const std::string& registry_id,
                                                 const std::string& digest) override;
  result<void> note_blob(const std::string& region, const std::string& registry_id, const std::string& digest,
                         const std::string& repository) override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_statistics_index final : public statistics_index {
 public:
  explicit sql_statistics_index(Pool& pool) : pool_(pool) {}
  result<inventory_row> inventory() override;
  result<std::vector<queue_row>> queues() override;
  result<int> schema_version() override;

 private:
  Pool& pool_;
};

template <class Pool>
class sql_event_index final : public event_index {
 public:
  explicit sql_event_index(Pool& pool) : pool_(pool) {}
  result<void> add(const std::vector<outbox_event>& events, std::int64_t now) override;
  result<std::optional<event_row>> claim_next(const std::string& holder, std::int64_t now, std::int64_t until) override;
  result<void> remove(std::int64_t id) override;
  result<void> retry(std::int64_t id, std::int64_t next_at, const std::string& error) override;
  result<void> release(const std::string& holder) override;

 private:
  Pool& pool_;
};

// A metadata store: the roles above on one pool.
template <class Pool>
class sql_metadata final : public metadata_store {
 public:
  explicit sql_metadata(std::unique_ptr<Pool> pool)
      : pool_(std::move(pool)),
        repositories_(*pool_),
        images_(*pool_),
        blobs_(*pool_),
        uploads_(*pool_),
        settings_(*pool_),
        lifecycle_(*pool_),
        maintenance_(*pool_),
        leases_(*pool_),
        secrets_(*pool_),
        identities_(*pool_),
        vault_(*pool_),
        cache_(*pool_),
        replication_(*pool_),
        statistics_(*pool_),
        events_(*pool_) {}

  repository_index& repositories() override { return repositories_; }
  image_index& images() override { return images_; }
  blob_index& blobs() override { return blobs_; }
  upload_index& uploads() override { return uploads_; }
  settings_index& settings() override { return settings_; }
  lifecycle_index& lifecycle() override { return lifecycle_; }
  maintenance_index& maintenance() override { return maintenance_; }
  lease_index& leases() override { return leases_; }
  secret_index& secrets() override { return secrets_; }
  identity_index& identities() override { return identities_; }
  vault_index& vault() override { return vault_; }
  cache_index& cache() override { return cache_; }
  replication_index& replication() override { return replication_; }
  statistics_index& statistics() override { return statistics_; }
  event_index& events() override { return events_; }
  void release_memory() override { pool_->release_memory(); }

 private:
  std::unique_ptr<Pool> pool_;
  sql_repository_index<Pool> repositories_;
  sql_image_index<Pool> images_;
  sql_blob_index<Pool> blobs_;
  sql_upload_index<Pool> uploads_;
  sql_settings_index<Pool> settings_;
  sql_lifecycle_index<Pool> lifecycle_;
  sql_maintenance_index<Pool> maintenance_;
  sql_lease_index<Pool> leases_;
  sql_secret_index<Pool> secrets_;
  sql_identity_index<Pool> identities_;
  sql_vault_index<Pool> vault_;
  sql_cache_index<Pool> cache_;
  sql_replication_index<Pool> replication_;
  sql_statistics_index<Pool> statistics_;
  sql_event_index<Pool> events_;
};

}  // namespace berth::meta
