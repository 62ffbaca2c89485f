// The registry domain: every rule about repositories, blobs, uploads, manifests and tags, in one
// place, used by the V2 adapter (and later the ECR adapter). Knows nothing of HTTP.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "berth/meta/meta_index.hpp"
#include "berth/core/byte_range.hpp"
#include "berth/core/clock.hpp"
#include "berth/registry/manifest.hpp"
#include "berth/core/names.hpp"
#include "berth/registry/repository_catalog.hpp"
#include "berth/registry/upload_writer.hpp"
#include "berth/storage/blob_store.hpp"

namespace berth {

struct registry_options {
  std::int64_t upload_expiry_seconds = 24 * 3600;
  std::int64_t max_upload_sessions_per_repository = 1000;
};

struct upload_status {
  std::string id;
  std::string repository;
  std::uint64_t size = 0;
};

struct manifest_content {
  std::string digest;
  std::string media_type;
  std::string content;
};

struct pushed_manifest {
  std::string digest;
  std::string media_type;
  std::string subject;  // digest of the subject, or ""
  std::vector<std::string> tags;
};

struct put_manifest_options {
  std::vector<std::string> extra_tags;  // OCI ?tag= parameters on a push by digest
  bool reject_existing_tag = false;     // PutImage: the same manifest under the same tag is an error
  bool count_as_push = true;
};

// One image id as BatchDeleteImage reports it.
struct image_id {
  std::string digest;
  std::string tag;
};

class registry {
 public:
  registry(storage::blob_store& blobs, meta::meta_index& meta, repository_catalog& repositories, const clock& clk,
           registry_options options = {});

  repository_catalog& repositories() { return repositories_; }
  meta::meta_index& meta() { return meta_; }

  // Blobs: visible only where uploaded, mounted or referenced.
  result<storage::opened_blob> open_blob(const std::string& repo, const digest& d);
  result<std::uint64_t> blob_size(const std::string& repo, const digest& d);
  result<void> delete_blob(const std::string& repo, const digest& d);
  // true when mounted from `from`; false when the caller should start a normal upload instead.
  result<bool> mount_blob(const std::string& repo, const std::string& from, const digest& d);

  // Uploads.
  result<upload_status> start_upload(const std::string& repo);
  result<upload_status> get_upload(const std::string& repo, const std::string& id);
  // Opens the session for appending. With a Content-Range, its start must be the current size.
  result<std::unique_ptr<upload_writer>> resume_upload(const std::string& repo, const std::string& id,
                                                       std::optional<byte_range> content_range,
                                                       digest_algorithm algorithm = digest_algorithm::sha256);
  // Verifies the digest of everything written, then makes the blob durable and visible.
  // On a mismatch the session is discarded and nothing is committed.
  result<void> complete_upload(std::unique_ptr<upload_writer> writer, const digest& expected);
  result<void> cancel_upload(const std::string& repo, const std::string& id);
  // Removes sessions idle longer than the expiry and temp files with no session. Returns the count.
  std::size_t expire_uploads();

  // Manifests and tags.
  // `pull`: a GET that counts for lastRecordedPullTime (recorded in batches, see flush_pulls).
  result<manifest_content> get_manifest(const std::string& repo, const reference& ref, bool pull = false);
  result<pushed_manifest> put_manifest(const std::string& repo, const reference& ref, std::string_view content_type,
                                       std::string bytes, const put_manifest_options& options = {});
  // V2 DELETE: a digest removes the image and its tags (refused while an index lists it); a tag
  // removes the tag only.
  result<void> delete_manifest(const std::string& repo, const reference& ref);
  // BatchDeleteImage: by digest as above; by tag removes the tag and, when it was the image's last
  // tag, the image too. Returns the image ids removed.
  result<std::vector<image_id>> delete_image(const std::string& repo, const std::string& digest,
                                             const std::string& tag);
  // Writes the pull times gathered since the last flush (one transaction).
  void flush_pulls();

  // Lifecycle: removes the image as BatchDeleteImage by digest would, after its OCI referrers
  // (signatures, SBOMs), recursively. Returns the image ids removed.
  result<std::vector<image_id>> expire_image(const std::string& repo, const std::string& digest);
  // ARCHIVE: still listed, not pullable; STANDARD: pullable again. errc::image_not_found.
  result<void> set_storage_class(const std::string& repo, const std::string& digest, bool archived);

  // Start-up recovery after a crash: finishes or undoes garbage collection caught between its
  // metadata commit and its file removal.
  void recover();

  storage::blob_store& blobs() { return blobs_; }
  const clock& time_source() const { return clock_; }
  result<std::vector<std::string>> list_tags(const std::string& repo, const std::string& after, std::size_t limit);
  result<std::vector<std::string>> list_repositories(const std::string& after, std::size_t limit);
  result<std::vector<meta::referrer_row>> referrers(const std::string& repo, const digest& subject);

 private:
  std::shared_ptr<upload_progress> progress_for(const std::string& id);
  void forget_progress(const std::string& id);
  result<hasher> hash_upload_file(const std::string& id, digest_algorithm algorithm, std::uint64_t size);

  result<void> require_repository(const std::string& repo);
  void note_pull(const std::string& repo, const std::string& digest);

  storage::blob_store& blobs_;
  meta::meta_index& meta_;
  repository_catalog& repositories_;
  storage::disk_io_pool disk_io_;
  std::mutex pulls_mutex_;
  std::vector<std::pair<std::string, std::string>> pulls_;
  const clock& clock_;
  registry_options options_;
  std::mutex progress_mutex_;
  std::unordered_map<std::string, std::shared_ptr<upload_progress>> progress_;
};

}  // namespace berth
