// ECR lifecycle policies: the document (parsed and validated as ECR validates it) and the one
// evaluator that both previews and real runs use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::lifecycle {

struct selection {
  std::string tag_status;  // tagged | untagged | any
  std::vector<std::string> tag_prefixes;
  std::vector<std::string> tag_patterns;   // '*' wildcards
  std::string storage_class = "standard";  // standard | archive
  std::string count_type;  // imageCountMoreThan | sinceImagePushed | sinceImagePulled | sinceImageTransitioned
  std::string count_unit;  // days (age-based types only)
  std::int64_t count_number = 0;
};

struct rule_action {
  std::string type;                  // expire | transition
  std::string target_storage_class;  // archive (transition only)
};

struct rule {
  std::int64_t priority = 0;
  std::string description;
  selection select;
  rule_action action;
};

struct policy {
  std::vector<rule> rules;  // ordered by priority, lowest (applied first) first
};

inline constexpr std::size_t min_policy_length = 100;
inline constexpr std::size_t max_policy_length = 30720;

// errc::invalid_parameter with ECR's wording:
// "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy
//  validation failure: <reason>'"
result<policy> parse_policy(std::string_view text);

// What the evaluator needs of an image.
struct image {
  std::string digest;
  std::vector<std::string> tags;
  std::int64_t pushed_at = 0;
  std::int64_t last_pulled_at = 0;    // 0: never pulled (the push time counts)
  std::int64_t last_archived_at = 0;  // 0: never archived
  bool archived = false;
};

struct decision {
  std::string digest;
  std::int64_t rule_priority = 0;
  std::string action;                // EXPIRE | TRANSITION (the API's spelling)
  std::string target_storage_class;  // ARCHIVE for transitions
};

// Rules apply in priority order; each image is acted on by at most one rule; an image whose tags a
// higher-priority rule selected is never acted on by a lower one (even if that rule kept it), but it
// still counts toward a lower rule's imageCountMoreThan. Decisions come oldest image first.
std::vector<decision> evaluate(const policy& p, const std::vector<image>& images, std::int64_t now);

bool selection_matches(const selection& s, const image& img);

}  // namespace berth::lifecycle
