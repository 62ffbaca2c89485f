// The domain's own types: what adapters (V2, ECR, CLI) receive from registry services. They are
// not metadata rows; the services translate.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace berth {

struct repository_config {
  std::string image_tag_mutability = "MUTABLE";  // MUTABLE | IMMUTABLE | *_WITH_EXCLUSION
  std::vector<std::string> exclusion_filters;    // wildcard filters ('*')
  bool scan_on_push = false;
  std::string encryption_type = "AES256";
  std::string kms_key;
};

struct repository_info {
  std::string name;
  std::int64_t created_at = 0;
  repository_config config;
};

using resource_tags = std::vector<std::pair<std::string, std::string>>;

// A repository creation template, kept as ECR's JSON document (the API's own shape).
struct template_info {
  std::string prefix;
  std::string document;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
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

// A manifest as BatchGetImage returns it: archived images are found, not pullable.
struct stored_manifest {
  std::string digest;
  std::string media_type;
  std::string content;
  bool archived = false;
};

struct pushed_manifest {
  std::string digest;
  std::string media_type;
  std::string subject;  // digest of the subject, or ""
  std::vector<std::string> tags;
};

struct put_manifest_options {
  std::vector<std::string> extra_tags;  // OCI ?tag= parameters on a push by digest
  // PutImage: pushing the manifest a tag already names (or, without a tag, a manifest already in
  // the repository) is an error.
  bool reject_unchanged = false;
  // A push replicated here from another registry: not replicated onward (as in ECR, replication
  // does not chain; two registries replicating to each other would otherwise copy forever).
  bool replicated = false;
};

// One image id as BatchDeleteImage and ListImages report it (tag "" for an untagged image).
struct image_id {
  std::string digest;
  std::string tag;
};

enum class image_filter { any, tagged, untagged };

struct image_info {
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

struct referrer_info {
  std::string digest;
  std::string media_type;
  std::int64_t size = 0;
  std::string artifact_type;
  std::string annotations;  // JSON object text, or ""
};

// One page of a listing. `next` is the cursor of the next page (pass it as `after`), "" on the last.
template <class T>
struct page {
  std::vector<T> items;
  std::string next;
};

}  // namespace berth
