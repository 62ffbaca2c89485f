// Metadata role: who may call Berth besides root and the configured users — IAM users, their
// access keys (secrets sealed, never in the clear), inline policies, groups with their policies,
// and the principals whose pulls do not update lastRecordedPullTime. Repository and registry
// policies live here too: every document authorization reads, behind one generation counter that
// each change bumps, so a server that caches what it evaluates sees a change on the next request.
//
// Names of users and groups are unique without regard to case, as in IAM; lookups ignore case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::meta {

struct user_row {
  std::string name;
  std::string path = "/";
  std::string user_id;  // AIDA…
  std::int64_t created_at = 0;
  // Opted in to long-lived pull credentials: V2 Basic with the access key id and secret.
  bool basic_pull = false;
};

struct access_key_row {
  std::string access_key_id;  // AKIA…
  std::string user_name;
  std::string sealed_secret;      // auth::secret_sealer's output, bound to the key id
  std::string status = "Active";  // Active | Inactive
  std::int64_t created_at = 0;
};

struct group_row {
  std::string name;
  std::string path = "/";
  std::string group_id;  // AGPA…
  std::int64_t created_at = 0;
};

// A repository or registry policy with the time it was stored.
struct stored_policy {
  std::string document;
  std::int64_t stored_at = 0;
  std::string principal_ids = "{}";  // JSON object: each user ARN it names → that user's id then
};

struct named_policy {
  std::string name;
  std::string document;
};

class identity_index {
 public:
  virtual ~identity_index() = default;

  // Bumped by every write to this role and by removing a repository (its policy goes with it).
  virtual result<std::int64_t> generation() = 0;

  // errc::entity_already_exists when the name is taken (in any case).
  virtual result<void> create_user(const user_row& u) = 0;
  virtual result<std::optional<user_row>> find_user(const std::string& name) = 0;
  // Sorted by name, bytewise; names starting with `path_prefix`'s path; strictly after `after`.
  virtual result<std::vector<user_row>> list_users(const std::string& path_prefix, const std::string& after,
                                                   std::size_t limit) = 0;
  virtual result<void> set_basic_pull(const std::string& name, bool on) = 0;
  // errc::no_such_entity; errc::delete_conflict naming what is left (access keys, policies, groups).
  virtual result<void> delete_user(const std::string& name) = 0;

  // errc::no_such_entity (user); errc::limit_exceeded past `max_per_user` keys.
  virtual result<void> create_access_key(const access_key_row& k, std::size_t max_per_user) = 0;
  virtual result<std::optional<access_key_row>> find_access_key(const std::string& access_key_id) = 0;
  virtual result<std::vector<access_key_row>> access_keys(const std::string& user) = 0;
  // errc::no_such_entity when the user has no such key.
  virtual result<void> set_access_key_status(const std::string& user, const std::string& access_key_id,
                                             const std::string& status) = 0;
  virtual result<void> delete_access_key(const std::string& user, const std::string& access_key_id) = 0;

  // Inline policies of a user (kind "user") or a group (kind "group"): errc::no_such_entity when
  // the owner (or, for get/delete, the policy) does not exist.
  virtual result<void> put_policy(const std::string& kind, const std::string& owner, const named_policy& p) = 0;
  virtual result<named_policy> get_policy(const std::string& kind, const std::string& owner,
                                          const std::string& name) = 0;
  virtual result<std::vector<std::string>> policy_names(const std::string& kind, const std::string& owner) = 0;
  virtual result<void> delete_policy(const std::string& kind, const std::string& owner, const std::string& name) = 0;
  // Every identity policy that applies to the user: its own and its groups'.
  virtual result<std::vector<std::string>> policies_of_user(const std::string& user) = 0;

  virtual result<void> create_group(const group_row& g) = 0;
  virtual result<std::optional<group_row>> find_group(const std::string& name) = 0;
  virtual result<std::vector<group_row>> groups_of_user(const std::string& user) = 0;
  virtual result<std::vector<user_row>> users_of_group(const std::string& group) = 0;
  virtual result<void> add_user_to_group(const std::string& group, const std::string& user) = 0;
  virtual result<void> remove_user_from_group(const std::string& group, const std::string& user) = 0;
  // errc::delete_conflict while it has members or policies.
  virtual result<void> delete_group(const std::string& name) = 0;

  // Resource policies. A repository's: errc::name_unknown when the repository does not exist.
  virtual result<std::optional<stored_policy>> repository_policy(const std::string& repository) = 0;
  virtual result<void> put_repository_policy(const std::string& repository, const stored_policy& p) = 0;
  // false when it had none.
  virtual result<bool> delete_repository_policy(const std::string& repository) = 0;
  virtual result<std::optional<stored_policy>> registry_policy() = 0;
  virtual result<void> put_registry_policy(const stored_policy& p) = 0;
  virtual result<bool> delete_registry_policy() = 0;

  // Principal ARNs whose pulls do not update lastRecordedPullTime. add: errc::entity_already_exists
  // when listed; remove: errc::no_such_entity when not.
  virtual result<void> add_pull_exclusion(const std::string& principal_arn, std::int64_t now) = 0;
  virtual result<void> remove_pull_exclusion(const std::string& principal_arn) = 0;
  virtual result<std::vector<std::string>> pull_exclusions() = 0;
};

}  // namespace berth::meta
