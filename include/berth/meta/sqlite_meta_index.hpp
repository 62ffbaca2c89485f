// meta_index on SQLite (WAL): the embedded default, one file under the data directory.
#pragma once

#include <filesystem>
#include <memory>

#include "berth/meta/meta_index.hpp"
#include "berth/meta/sqlite_connection.hpp"

namespace berth::meta {

class sqlite_meta_index final : public meta_index {
 public:
  static result<std::unique_ptr<sqlite_meta_index>> open(const std::filesystem::path& db_path);

  void release_memory() override;

  result<bool> repository_exists(const std::string& name) override;
  result<void> ensure_repository(const std::string& name, std::int64_t now) override;
  result<void> create_repository(const std::string& name, const repository_settings& settings,
                                 const resource_tags& tags, std::int64_t now) override;
  result<std::optional<repository_row>> find_repository(const std::string& name) override;
  result<std::vector<repository_row>> list_repository_rows(const std::string& after, std::size_t limit) override;
  result<void> update_repository_settings(const std::string& name, const repository_settings& settings) override;
  result<repository_row> delete_repository(const std::string& name, bool force) override;
  result<resource_tags> repository_tags(const std::string& name) override;
  result<void> tag_repository(const std::string& name, const resource_tags& tags, std::size_t max_tags) override;
  result<void> untag_repository(const std::string& name, const std::vector<std::string>& keys) override;
  result<std::vector<std::string>> list_repositories(const std::string& after, std::size_t limit) override;

  result<std::optional<std::int64_t>> linked_blob_size(const std::string& repo, const std::string& digest) override;
  result<void> record_blob(const std::string& repo, const std::string& digest, std::int64_t size, std::int64_t now,
                           const std::function<result<void>()>& publish) override;
  result<bool> mount_blob(const std::string& repo, const std::string& from, const std::string& digest,
                          std::int64_t now) override;
  result<bool> unlink_blob(const std::string& repo, const std::string& digest) override;

  result<void> create_upload(const std::string& id, const std::string& repo, std::int64_t now) override;
  result<std::optional<upload_row>> find_upload(const std::string& id) override;
  result<void> touch_upload(const std::string& id, std::int64_t now) override;
  result<void> delete_upload(const std::string& id) override;
  result<std::vector<upload_row>> uploads_idle_since(std::int64_t before) override;
  result<std::vector<upload_row>> all_uploads() override;
  result<std::int64_t> count_uploads(const std::string& repo) override;

  result<std::optional<manifest_row>> manifest_by_digest(const std::string& repo, const std::string& digest) override;
  result<std::optional<manifest_row>> manifest_by_tag(const std::string& repo, const std::string& tag) override;
  result<void> put_manifest(const manifest_write& m) override;
  result<bool> delete_manifest(const std::string& repo, const std::string& digest) override;
  result<bool> delete_tag(const std::string& repo, const std::string& tag) override;
  result<std::vector<std::string>> list_tags(const std::string& repo, const std::string& after,
                                             std::size_t limit) override;
  result<std::vector<referrer_row>> referrers(const std::string& repo, const std::string& subject) override;

  result<std::vector<image_row>> images(const std::string& repo) override;
  result<std::vector<std::string>> parent_indexes(const std::string& repo, const std::string& digest) override;
  result<void> record_pulls(const std::vector<std::pair<std::string, std::string>>& repo_digest,
                            std::int64_t when) override;
  result<bool> record_upload_part(const std::string& id, std::int64_t size, std::int64_t min_size) override;
  result<bool> upload_has_small_part(const std::string& id) override;

  result<void> put_template(const template_row& t, bool create) override;
  result<std::vector<template_row>> templates() override;
  result<bool> delete_template(const std::string& prefix) override;
  result<std::optional<std::string>> account_setting(const std::string& name) override;
  result<void> put_account_setting(const std::string& name, const std::string& value) override;

  result<void> put_lifecycle_policy(const std::string& repo, const std::string& text) override;
  result<std::optional<lifecycle_policy_row>> lifecycle_policy(const std::string& repo) override;
  result<std::optional<lifecycle_policy_row>> delete_lifecycle_policy(const std::string& repo) override;
  result<void> mark_lifecycle_evaluated(const std::string& repo, std::int64_t when) override;
  result<std::vector<std::string>> repositories_with_lifecycle_policy() override;
  result<void> start_lifecycle_preview(const std::string& repo, const std::string& text, std::int64_t now,
                                       std::int64_t stale_before) override;
  result<void> finish_lifecycle_preview(const std::string& repo, const std::string& status,
                                        const std::string& results) override;
  result<std::optional<lifecycle_preview_row>> lifecycle_preview(const std::string& repo) override;
  result<bool> set_storage_class(const std::string& repo, const std::string& digest, bool archived,
                                 std::int64_t now) override;
  result<std::vector<std::string>> referrer_digests(const std::string& repo, const std::string& digest) override;

  result<std::vector<blob_row>> unreferenced_blobs(std::int64_t before) override;
  result<bool> delete_unreferenced_blob(const std::string& digest, std::int64_t before,
                                        const std::function<result<void>()>& unpublish) override;
  result<std::optional<blob_row>> find_blob(const std::string& digest) override;
  result<bool> if_blob_unrecorded(const std::string& digest, const std::function<void()>& action) override;
  result<std::vector<blob_row>> all_blobs() override;
  result<std::vector<reference_row>> all_references() override;
  result<std::vector<usage_row>> usage() override;

 private:
  explicit sqlite_meta_index(std::unique_ptr<connection_pool> pool) : pool_(std::move(pool)) {}
  result<std::vector<upload_row>> query_uploads(const char* sql, std::optional<std::int64_t> arg);
  std::unique_ptr<connection_pool> pool_;
};

}  // namespace berth::meta
