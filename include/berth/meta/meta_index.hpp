// The metadata index interface: repositories, blob links, manifests, tags, upload sessions.
// SQLite implements it by default; every mutation is one transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/registry/error.hpp"

namespace berth::meta {

struct manifest_row {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  std::string content;
  std::int64_t pushed_at = 0;
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
  std::vector<std::string> blob_refs;      // must be linked to the repository
  std::vector<std::string> manifest_refs;  // must exist in the repository
  std::vector<std::string> tags;           // point these at the manifest
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

  virtual result<bool> repository_exists(const std::string& name) = 0;
  virtual result<void> ensure_repository(const std::string& name, std::int64_t now) = 0;
  // Names sorted bytewise, strictly after `after`, at most `limit`.
  virtual result<std::vector<std::string>> list_repositories(const std::string& after, std::size_t limit) = 0;

  // Size of a blob linked to the repository, or nullopt.
  virtual result<std::optional<std::int64_t>> linked_blob_size(const std::string& repo, const std::string& digest) = 0;
  // Records a committed blob and links it to the repository (creating the repository).
  virtual result<void> record_blob(const std::string& repo, const std::string& digest, std::int64_t size,
                                   std::int64_t now) = 0;
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

  virtual result<std::optional<manifest_row>> manifest_by_digest(const std::string& repo, const std::string& digest) = 0;
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
};

}  // namespace berth::meta
