// The values the metadata roles read and write. They are storage rows, not the API's model: the
// domain (registry/) turns them into the types adapters see.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace berth::meta {

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

struct manifest_row {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  std::string content;
  std::int64_t pushed_at = 0;
  bool archived = false;
};

// A manifest with its tags and the attributes listings show.
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
  std::vector<std::string> tags;    // sorted
  bool archived = false;
  std::int64_t last_archived_at = 0;
  std::int64_t last_activated_at = 0;
};

enum class tag_filter { any, tagged, untagged };

// One (digest, tag) pair; tag "" for an untagged image. Also the cursor of ListImages pages.
struct image_ref {
  std::string digest;
  std::string tag;
  friend bool operator==(const image_ref&, const image_ref&) = default;
};

// One event for one webhook, written to the outbox in the transaction of the change it announces
// (the body is the domain's; the metadata only keeps it until it is delivered).
struct outbox_event {
  std::string webhook;     // the receiver's URL
  std::string repository;  // events of one repository and webhook are delivered in order
  std::string event_id;
  std::string body;
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
  // PutImage: errc::image_already_exists when the first tag already names this digest (or, with
  // no tag, when the manifest is already in the repository).
  bool reject_unchanged = false;
  // Replication destinations (region, registry id) the push is copied to: a job per destination
  // and tag (or one with tag "" without tags) is written with the manifest.
  std::vector<std::pair<std::string, std::string>> replicate_to;
  // Written with the manifest: a push that commits is announced, one that does not is not.
  std::vector<outbox_event> events;
};

// What a delete announces, made inside its transaction from each (digest, tag) it removes.
struct deletion_events {
  std::int64_t at = 0;  // the deletion's time
  std::function<std::vector<outbox_event>(const std::string& repository, const image_ref& gone)> make;
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
  std::uint64_t size = 0;            // bytes covered by the last checkpoint
  std::string hash_state;            // the running hash of those bytes (hasher::export_state), "" before any
  std::string store_epoch;           // the blob store's epoch at that checkpoint
  bool small_part_followed = false;  // ECR layer API: a part under the minimum was not the last
};

// What one request added to an upload session.
struct upload_checkpoint {
  std::string id;
  std::string writer;
  std::uint64_t size = 0;
  std::string hash_state;
  std::string store_epoch;
  std::int64_t now = 0;
  std::optional<std::int64_t> part_size;  // ECR UploadLayerPart: this part's size
  std::int64_t min_part_size = 0;
};

// A blob committed to the store: record it, link it to the repository and, for an upload, end its
// session, in one step.
struct blob_record {
  std::string repository;
  std::string digest;
  std::int64_t size = 0;
  std::int64_t now = 0;
  std::string upload_id;  // "" for none
};

struct template_row {
  std::string prefix;
  std::string document;  // JSON, owned by the domain
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// A pull-through cache rule: repositories under `prefix` mirror `upstream_url`.
struct pull_through_rule_row {
  std::string prefix;  // ecrRepositoryPrefix ("ROOT" for every repository)
  std::string upstream_url;
  std::string upstream_registry;
  std::string credential_arn;
  std::string custom_role_arn;
  std::string upstream_prefix;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
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

struct blob_row {
  std::string digest;
  std::int64_t size = 0;
  std::int64_t created_at = 0;
  bool deleting = false;  // garbage collection has marked it
};

// Who marks a blob for deletion, and until when the mark is theirs.
struct deletion_claim {
  std::string holder;
  std::int64_t now = 0;
  std::int64_t until = 0;
};

// One (repository, manifest, child) reference, for fsck; also the cursor of its pages.
struct reference_row {
  std::string repository;
  std::string manifest;
  std::string child;
  bool child_is_manifest = false;
};

struct usage_row {
  std::string repository;
  std::int64_t images = 0;
  std::int64_t tags = 0;
  std::int64_t referenced_bytes = 0;  // distinct blobs its manifests reference
};

}  // namespace berth::meta
