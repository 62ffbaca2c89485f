// The registry domain: every rule about blobs, uploads, manifests, tags and images, in one place,
// used by the V2 and ECR adapters, the lifecycle runs and maintenance. Knows nothing of HTTP, and
// its callers know nothing of its backends: a blob store, an upload store and metadata roles,
// chosen by the composition root (cli/backends.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/core/byte_range.hpp"
#include "berth/core/byte_source.hpp"
#include "berth/core/clock.hpp"
#include "berth/core/names.hpp"
#include "berth/meta/rows.hpp"
#include "berth/registry/manifest.hpp"
#include "berth/registry/model.hpp"
#include "berth/registry/repository_catalog.hpp"
#include "berth/registry/upload_session.hpp"

namespace berth {

namespace storage {
class blob_store;
class upload_store;
}  // namespace storage
namespace meta {
class metadata_store;
struct upload_row;
}  // namespace meta

// The backends a registry runs on.
struct registry_backends {
  storage::blob_store& blobs;
  storage::upload_store& uploads;
  meta::metadata_store& meta;
};

struct registry_options {
  std::int64_t upload_expiry_seconds = 24 * 3600;
  std::int64_t max_upload_sessions_per_repository = 1000;
  // A writer's claim on an upload session lasts this long unless renewed (renew_upload_claims): a
  // server that died mid-request frees its sessions after it.
  std::int64_t upload_claim_seconds = 120;
  // A name this server keeps across restarts (host and data directory), where only one server at a
  // time has it: its upload claims carry it, and at start it frees those its predecessor left.
  std::string server_identity = {};
};

// Where a push to a repository is replicated: (region, registry id) pairs, written with the
// manifest as durable jobs (replication_rules implements it; none: no replication).
class replication_targets {
 public:
  virtual ~replication_targets() = default;
  // An error fails the push: a push that commits has its jobs.
  virtual result<std::vector<std::pair<std::string, std::string>>> destinations_for(const std::string& repository) = 0;
};

// ECR's layer API: the smallest part but the last, and the part size it advertises.
inline constexpr std::int64_t min_layer_part_size = 5 * 1024 * 1024;

// Who hears of pushes and deletes (event_announcer implements it; none: no events). What it
// returns is written with the change, in its transaction.
class image_events {
 public:
  virtual ~image_events() = default;
  // A push of `digest` by `tags` (an event for each; one without a tag for a push by digest).
  virtual std::vector<meta::outbox_event> pushed(const std::string& repository, const std::string& digest,
                                                 const std::vector<std::string>& tags,
                                                 const std::string& media_type) = 0;
  // What a deletion happening now announces.
  virtual meta::deletion_events deletions() = 0;
  // A change whose events were written has committed: delivery may begin.
  virtual void written() {}
};

class registry {
 public:
  registry(registry_backends backends, repository_catalog& repositories, const clock& clk,
           registry_options options = {});
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  repository_catalog& repositories() { return repositories_; }
  // Set once at start-up, before requests.
  void set_replication(replication_targets* targets) { replication_ = targets; }
  void set_events(image_events* events) { events_ = events; }
  const clock& time_source() const { return clock_; }
  const std::string& registry_id() const { return repositories_.registry_id(); }

  // ---- blobs: visible only where uploaded, mounted or referenced
  result<std::uint64_t> blob_size(const std::string& repo, const digest& d);
  result<std::shared_ptr<blob_content>> open_blob(const std::string& repo, const digest& d);
  result<void> delete_blob(const std::string& repo, const digest& d);
  // true when mounted from `from`; false when the caller should start a normal upload instead.
  result<bool> mount_blob(const std::string& repo, const std::string& from, const digest& d);

  // ---- uploads
  result<upload_status> start_upload(const std::string& repo);
  result<upload_status> get_upload(const std::string& repo, const std::string& id);
  // Takes the session for this request (blob_upload_invalid while another request writes to it).
  // With a Content-Range, its start must be where the session ends (upload_out_of_order).
  result<std::unique_ptr<upload_session>> resume_upload(const std::string& repo, const std::string& id,
                                                        std::optional<byte_range> content_range,
                                                        digest_algorithm algorithm = digest_algorithm::sha256);
  // Verifies the digest of everything written, then makes the blob durable and visible. On a
  // mismatch the session is discarded and nothing is committed.
  result<void> complete_upload(std::unique_ptr<upload_session> session, const digest& expected);
  // The digest of everything written so far, as complete_upload will check it (sha256 sessions);
  // the session stays open for complete_upload or cancel_upload.
  result<digest> upload_digest(upload_session& session);
  result<void> cancel_upload(const std::string& repo, const std::string& id);
  // Removes sessions idle longer than the expiry and upload files with no session. Returns the count.
  std::size_t expire_uploads();
  // Extends this process's claims on the sessions it is writing (the server calls it periodically).
  void renew_upload_claims();
  // ECR's layer API on the same sessions: a part must start where the upload ends
  // (invalid_layer_part with upload_detail); returns the bytes the upload then holds.
  result<std::uint64_t> upload_layer_part(const std::string& repo, const std::string& id, std::uint64_t first,
                                          std::uint64_t last, std::string_view bytes);
  // empty_upload, layer_part_too_small (a part under the minimum was followed by another),
  // layer_already_exists, invalid_layer (digest mismatch), blob_upload_unknown.
  result<void> complete_layer_upload(const std::string& repo, const std::string& id, const digest& d);

  // ---- manifests, tags and images
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
  // Lifecycle: removes the image as BatchDeleteImage by digest would, after its OCI referrers
  // (signatures, SBOMs), recursively. Returns the image ids removed.
  result<std::vector<image_id>> expire_image(const std::string& repo, const std::string& digest);
  // ARCHIVE: still listed, not pullable; STANDARD: pullable again. The image by digest, or by tag
  // when `digest` is empty; returns its digest. errc::image_not_found.
  result<std::string> set_storage_class(const std::string& repo, const std::string& digest, const std::string& tag,
                                        bool archived);
  // BatchGetImage: the manifest an image id names (a digest and a tag given together must agree),
  // or nullopt; one query per id. The caller counts a pull it serves with note_pull.
  result<std::optional<stored_manifest>> find_manifest(const std::string& repo, const std::string& digest,
                                                       const std::string& tag);
  // A pull that counts for lastRecordedPullTime (recorded in batches, see flush_pulls).
  void note_pull(const std::string& repo, const std::string& digest);
  // Writes the pull times gathered since the last flush (one transaction).
  void flush_pulls();

  result<std::vector<std::string>> list_tags(const std::string& repo, const std::string& after, std::size_t limit);
  result<std::vector<std::string>> list_repositories(const std::string& after, std::size_t limit);
  result<std::vector<referrer_info>> referrers(const std::string& repo, const digest& subject);
  // DescribeImages: images by digest. ListImages: (digest, tag) pairs; the cursor is opaque.
  result<page<image_info>> images(const std::string& repo, image_filter filter, const std::string& after,
                                  std::size_t limit);
  result<page<image_id>> image_ids(const std::string& repo, image_filter filter, const std::string& after,
                                   std::size_t limit);
  // The image a digest and/or a tag names, or nullopt.
  result<std::optional<image_info>> find_image(const std::string& repo, const std::string& digest,
                                               const std::string& tag);
  // Every image of the repository (lifecycle evaluation needs them all), read page by page.
  result<std::vector<image_info>> all_images(const std::string& repo);

  // Start-up recovery after a crash: finishes garbage collection caught between its steps.
  void recover();
  // Gives back memory held for speed; called when the server has been idle for a moment.
  void release_memory();

 private:
  result<void> require_repository(const std::string& repo);
  result<hasher> rehash_upload(const std::string& id, digest_algorithm algorithm, std::uint64_t& size);
  // Commits the session's bytes and records the blob, retrying while garbage collection removes
  // the same digest; the session is gone afterwards, whatever the outcome.
  result<void> commit_session(upload_session& session, const digest& d);
  void discard_session(upload_session& session);
  std::string new_writer();
  // Takes session `id` of `repo` for `writer` (blob_upload_invalid with `busy_message` while another
  // writer holds it, blob_upload_unknown for no session, or another repository's).
  result<meta::upload_row> claim_session(const std::string& repo, const std::string& id, const std::string& writer,
                                         const char* busy_message);
  void track_claim(const std::string& id, const std::string& writer, bool active);

  registry_backends backends_;
  repository_catalog& repositories_;
  const clock& clock_;
  registry_options options_;
  replication_targets* replication_ = nullptr;
  image_events* events_ = nullptr;
  std::string writer_id_;  // this process: its upload claims are writer_id_/<n>, one per request
  std::mutex pulls_mutex_;
  std::vector<std::pair<std::string, std::string>> pulls_;
  std::mutex claims_mutex_;
  std::uint64_t writers_ = 0;
  std::set<std::pair<std::string, std::string>> active_claims_;  // (upload id, writer) this process holds
};

}  // namespace berth
