// The metadata index interface: repositories, blob links, manifests, tags, upload sessions.
// SQLite implements it by default; every mutation is one transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::meta {

struct manifest_row {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  std::string content;
  std::int64_t pushed_at = 0;
  bool archived = false;
};

struct repository_settings {
  std::string image_tag_mutability = "MUTABLE";
  std::string mutability_exclusions = "[]";  // JSON array of wildcard filters
  bool scan_on_push = false;
  std::string encryption_type = "AES256";
  std::string kms_key;
};

struct repository_row {
  std::string name;
  std::int64_t created_at = 0;
  repository_settings settings;
};

using resource_tags = std::vector<std::pair<std::string, std::string>>;

// An image as the ECR API lists it: a manifest with its tags.
struct image_row {
  std::string digest;
  std::string media_type;
  std::string config_media_type;
  std::string artifact_type;
  std::string subject;
  std::int64_t manifest_size = 0;
  std::int64_t image_size = 0;
  std::int64_t pushed_at = 0;
  std::int64_t last_pulled_at = 0;  // 0: never
  std::vector<std::string> tags;
  bool archived = false;
  std::int64_t last_archived_at = 0;
  std::int64_t last_activated_at = 0;
};

struct lifecycle_policy_row {
  std::string text;
  std::int64_t last_evaluated_at = 0;  // 0: never
};

struct lifecycle_preview_row {
  std::string text;
  std::string status;   // IN_PROGRESS | COMPLETE | FAILED
  std::string results;  // JSON array, owned by the domain
  std::int64_t started_at = 0;
};

// A blob nothing references, as garbage collection sees it.
struct blob_row {
  std::string digest;
  std::int64_t size = 0;
  std::int64_t created_at = 0;
};

struct template_row {
  std::string prefix;
  std::string document;  // JSON, owned by the domain
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct manifest_write {
  std::string repository;
  std::string digest;
  std::string media_type;
  std::string content;
  std::string artifact_type;
  std::string subject;      // digest of the subject, or ""
  std::string annotations;  // JSON object text, or ""
  std::int64_t pushed_at = 0;
  std::string config_media_type;
  std::int64_t image_size = 0;
  bool image_size_from_children = false;    // an index: the largest of its manifests
  std::vector<std::string> immutable_tags;  // among `tags`: may not move to another digest
  std::vector<std::string> blob_refs;       // must be linked to the repository
  std::vector<std::string> manifest_refs;   // must exist in the repository
  std::vector<std::string> tags;            // point these at the manifest
};

struct referrer_row {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  std::string artifact_type;
  std::string annotations;
};

struct upload_row {
  std::string id;
  std::string repository;
  std::int64_t started_at = 0;
  std::int64_t updated_at = 0;
};

class meta_index {
 public:
  virtual ~meta_index() = default;

  // Gives back memory held for speed (idle connections, caches); called when the server is idle.
  virtual void release_memory() {}

  virtual result<bool> repository_exists(const std::string& name) = 0;
  virtual result<void> ensure_repository(const std::string& name, std::int64_t now) = 0;
  // errc::repository_already_exists when taken.
  virtual result<void> create_repository(const std::string& name, const repository_settings& settings,
                                         const resource_tags& tags, std::int64_t now) = 0;
  virtual result<std::optional<repository_row>> find_repository(const std::string& name) = 0;
  virtual result<std::vector<repository_row>> list_repository_rows(const std::string& after, std::size_t limit) = 0;
  virtual result<void> update_repository_settings(const std::string& name, const repository_settings& settings) = 0;
  // Removes the repository with its manifests, tags, blob links and upload sessions.
  // errc::repository_not_empty when it holds images and `force` is false; name_unknown when absent.
  virtual result<repository_row> delete_repository(const std::string& name, bool force) = 0;
  virtual result<resource_tags> repository_tags(const std::string& name) = 0;
  // Adds or overwrites; errc::too_many_tags past `max_tags`.
  virtual result<void> tag_repository(const std::string& name, const resource_tags& tags, std::size_t max_tags) = 0;
  virtual result<void> untag_repository(const std::string& name, const std::vector<std::string>& keys) = 0;
  // Names sorted bytewise, strictly after `after`, at most `limit`.
  virtual result<std::vector<std::string>> list_repositories(const std::string& after, std::size_t limit) = 0;

  // Size of a blob linked to the repository, or nullopt.
  virtual result<std::optional<std::int64_t>> linked_blob_size(const std::string& repo, const std::string& digest) = 0;
  // Records a committed blob and links it to the repository (creating the repository).
  // `publish` runs inside the transaction before it commits (the blob store's rename), so that
  // making bytes visible and recording them are one step with respect to garbage collection.
  virtual result<void> record_blob(const std::string& repo, const std::string& digest, std::int64_t size,
                                   std::int64_t now, const std::function<result<void>()>& publish) = 0;
  // Links a blob already linked to `from` into `repo`; false when `from` has no such blob.
  virtual result<bool> mount_blob(const std::string& repo, const std::string& from, const std::string& digest,
                                  std::int64_t now) = 0;
  virtual result<bool> unlink_blob(const std::string& repo, const std::string& digest) = 0;

  virtual result<void> create_upload(const std::string& id, const std::string& repo, std::int64_t now) = 0;
  virtual result<std::optional<upload_row>> find_upload(const std::string& id) = 0;
  virtual result<void> touch_upload(const std::string& id, std::int64_t now) = 0;
  virtual result<void> delete_upload(const std::string& id) = 0;
  virtual result<std::vector<upload_row>> uploads_idle_since(std::int64_t before) = 0;
  virtual result<std::vector<upload_row>> all_uploads() = 0;
  virtual result<std::int64_t> count_uploads(const std::string& repo) = 0;

  virtual result<std::optional<manifest_row>> manifest_by_digest(const std::string& repo,
                                                                 const std::string& digest) = 0;
  virtual result<std::optional<manifest_row>> manifest_by_tag(const std::string& repo, const std::string& tag) = 0;
  // Checks references and writes manifest, references and tags in one transaction.
  // errc::manifest_blob_unknown names the first missing reference.
  virtual result<void> put_manifest(const manifest_write& m) = 0;
  // Deletes the manifest and every tag pointing at it; false when absent.
  virtual result<bool> delete_manifest(const std::string& repo, const std::string& digest) = 0;
  virtual result<bool> delete_tag(const std::string& repo, const std::string& tag) = 0;
  virtual result<std::vector<std::string>> list_tags(const std::string& repo, const std::string& after,
                                                     std::size_t limit) = 0;
  virtual result<std::vector<referrer_row>> referrers(const std::string& repo, const std::string& subject) = 0;

  // Images as the ECR API sees them, ordered by digest.
  virtual result<std::vector<image_row>> images(const std::string& repo) = 0;
  // Digests of the indexes in the repository that list `digest` as a child.
  virtual result<std::vector<std::string>> parent_indexes(const std::string& repo, const std::string& digest) = 0;
  virtual result<void> record_pulls(const std::vector<std::pair<std::string, std::string>>& repo_digest,
                                    std::int64_t when) = 0;
  // Remembers a layer part's size; returns true when a part smaller than `min_size` was followed by another.
  virtual result<bool> record_upload_part(const std::string& id, std::int64_t size, std::int64_t min_size) = 0;
  virtual result<bool> upload_has_small_part(const std::string& id) = 0;

  // Repository creation templates (document owned by the domain) and account settings.
  virtual result<void> put_template(const template_row& t,
                                    bool create) = 0;  // template_already_exists / template_not_found
  virtual result<std::vector<template_row>> templates() = 0;
  virtual result<bool> delete_template(const std::string& prefix) = 0;
  virtual result<std::optional<std::string>> account_setting(const std::string& name) = 0;
  virtual result<void> put_account_setting(const std::string& name, const std::string& value) = 0;

  // Lifecycle policies, previews and storage classes.
  virtual result<void> put_lifecycle_policy(const std::string& repo, const std::string& text) = 0;
  virtual result<std::optional<lifecycle_policy_row>> lifecycle_policy(const std::string& repo) = 0;
  virtual result<std::optional<lifecycle_policy_row>> delete_lifecycle_policy(const std::string& repo) = 0;
  virtual result<void> mark_lifecycle_evaluated(const std::string& repo, std::int64_t when) = 0;
  virtual result<std::vector<std::string>> repositories_with_lifecycle_policy() = 0;
  // errc::limit_exceeded when a preview is IN_PROGRESS (started after `stale_before`).
  virtual result<void> start_lifecycle_preview(const std::string& repo, const std::string& text, std::int64_t now,
                                               std::int64_t stale_before) = 0;
  virtual result<void> finish_lifecycle_preview(const std::string& repo, const std::string& status,
                                                const std::string& results) = 0;
  virtual result<std::optional<lifecycle_preview_row>> lifecycle_preview(const std::string& repo) = 0;
  virtual result<bool> set_storage_class(const std::string& repo, const std::string& digest, bool archived,
                                         std::int64_t now) = 0;
  // Digests of the manifests whose subject is `digest` (OCI referrers), in the repository.
  virtual result<std::vector<std::string>> referrer_digests(const std::string& repo, const std::string& digest) = 0;

  // Garbage collection: blobs no manifest references, created at or before `before` and not linked
  // after it (with no grace period, `before` is now and everything unreferenced qualifies).
  virtual result<std::vector<blob_row>> unreferenced_blobs(std::int64_t before) = 0;
  // Re-checks under the write transaction, removes the blob's rows, runs `unpublish` (the blob
  // store's move to trash) and commits; false when the blob became referenced meanwhile.
  virtual result<bool> delete_unreferenced_blob(const std::string& digest, std::int64_t before,
                                                const std::function<result<void>()>& unpublish) = 0;
  virtual result<std::optional<blob_row>> find_blob(const std::string& digest) = 0;
  // Runs `action` under the write lock if no record of the blob exists (orphan file removal).
  virtual result<bool> if_blob_unrecorded(const std::string& digest, const std::function<void()>& action) = 0;
  virtual result<std::vector<blob_row>> all_blobs() = 0;
  // Every (repository, manifest, child, is_manifest) reference, for fsck.
  struct reference_row {
    std::string repository;
    std::string manifest;
    std::string child;
    bool child_is_manifest = false;
  };
  virtual result<std::vector<reference_row>> all_references() = 0;
  struct usage_row {
    std::string repository;
    std::int64_t images = 0;
    std::int64_t tags = 0;
    std::int64_t referenced_bytes = 0;  // distinct blobs its manifests reference
  };
  virtual result<std::vector<usage_row>> usage() = 0;
};

}  // namespace berth::meta
