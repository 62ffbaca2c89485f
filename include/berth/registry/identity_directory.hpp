// IAM users, access keys, groups and their inline policies: the rules IAM applies to them (names,
// paths, the two-keys quota, what must go before a user can), the identifiers it hands out (AIDA…
// user ids, AKIA… key ids, 40-character secrets), and the sealing of secrets at rest. The IAM
// Query adapter and the `berth user|key|policy` commands both call it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "berth/auth/secret_sealer.hpp"
#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct user_info {
  std::string name;
  std::string path;
  std::string user_id;
  std::string arn;
  std::int64_t created_at = 0;
  bool basic_pull = false;
};

struct access_key_info {
  std::string user_name;
  std::string access_key_id;
  std::string status;
  std::int64_t created_at = 0;
  std::string secret_access_key;  // only when just created: never readable again
};

struct group_info {
  std::string name;
  std::string path;
  std::string group_id;
  std::string arn;
  std::int64_t created_at = 0;
};

// Whose inline policies: a user's or a group's.
enum class policy_owner { user, group };

inline constexpr std::size_t max_access_keys_per_user = 2;

class identity_directory {
 public:
  // `reserved`: names IAM users may not take (the configured users: their ARNs are taken).
  identity_directory(registry_backends backends, const auth::secret_sealer& sealer, const clock& clk,
                     std::string account_id, std::vector<std::string> reserved = {})
      : backends_(backends),
        sealer_(sealer),
        clock_(clk),
        account_id_(std::move(account_id)),
        reserved_(std::move(reserved)) {}

  // errc::invalid_parameter (names, paths: IAM's validation message), entity_already_exists.
  result<user_info> create_user(const std::string& name, const std::string& path, bool basic_pull = false);
  // errc::no_such_entity.
  result<user_info> user(const std::string& name);
  result<std::vector<user_info>> users(const std::string& path_prefix, const std::string& after, std::size_t limit);
  result<void> set_basic_pull(const std::string& name, bool on);
  // errc::delete_conflict while keys, policies or group memberships remain.
  result<void> delete_user(const std::string& name);

  result<access_key_info> create_access_key(const std::string& user);
  result<std::vector<access_key_info>> access_keys(const std::string& user);
  // `status`: Active | Inactive (errc::invalid_parameter otherwise).
  result<void> update_access_key(const std::string& user, const std::string& access_key_id, const std::string& status);
  result<void> delete_access_key(const std::string& user, const std::string& access_key_id);
  // The user an access key belongs to (for IAM calls that omit UserName); no_such_entity.
  result<std::string> owner_of_key(const std::string& access_key_id);

  // errc::malformed_policy_document with IAM's message.
  result<void> put_policy(policy_owner owner, const std::string& owner_name, const std::string& policy_name,
                          const std::string& document);
  result<std::string> policy(policy_owner owner, const std::string& owner_name, const std::string& policy_name);
  result<std::vector<std::string>> policy_names(policy_owner owner, const std::string& owner_name);
  result<void> delete_policy(policy_owner owner, const std::string& owner_name, const std::string& policy_name);

  result<group_info> create_group(const std::string& name, const std::string& path);
  result<group_info> group(const std::string& name);
  result<std::vector<user_info>> group_members(const std::string& name);
  result<std::vector<group_info>> groups_of(const std::string& user);
  result<void> add_user_to_group(const std::string& group, const std::string& user);
  result<void> remove_user_from_group(const std::string& group, const std::string& user);
  result<void> delete_group(const std::string& name);

  // Principals whose pulls do not update lastRecordedPullTime: errc::exclusion_already_exists,
  // errc::exclusion_not_found, errc::invalid_parameter (not an IAM user or role ARN).
  result<std::int64_t> add_pull_exclusion(const std::string& principal_arn);
  result<void> remove_pull_exclusion(const std::string& principal_arn);
  result<std::vector<std::string>> pull_exclusions();

  std::string user_arn(const std::string& path, const std::string& name) const;

 private:
  registry_backends backends_;
  const auth::secret_sealer& sealer_;
  const clock& clock_;
  std::string account_id_;
  std::vector<std::string> reserved_;
};

}  // namespace berth
