// Secrets as AWS Secrets Manager keeps them, for the credentials of pull-through cache upstreams:
// names and ARNs (…:secret:<name>-<6 random characters>), versions with staging labels
// (AWSCURRENT moves to each new value, the one before becomes AWSPREVIOUS), idempotent writes by
// client request token, and deletion after a recovery window. Values are sealed (AES-256-GCM,
// the key outside the metadata; auth::secret_sealer) and bound to their secret's ARN and version.
// The Secrets Manager adapter and the pull-through cache both call it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/auth/secret_sealer.hpp"
#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/meta/vault_index.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct secret_value {
  bool binary = false;  // SecretBinary (raw bytes) rather than SecretString
  std::string bytes;
};

using secret_tags = std::vector<std::pair<std::string, std::string>>;

struct secret_info {
  std::string name;
  std::string arn;
  std::string description;
  std::string kms_key_id;
  secret_tags tags;
  std::int64_t created_at = 0;
  std::int64_t changed_at = 0;
  std::int64_t accessed_at = 0;                                            // 0: never read
  std::int64_t deletion_date = 0;                                          // 0: not scheduled for deletion
  std::vector<std::pair<std::string, std::vector<std::string>>> versions;  // id → labels, oldest first
};

struct secret_version {
  std::string name;
  std::string arn;
  std::string version_id;
  std::vector<std::string> stages;
  std::int64_t created_at = 0;
  secret_value value;
};

struct new_secret {
  std::string name;
  std::string description;
  std::string kms_key_id;
  secret_tags tags;
  std::optional<secret_value> value;
  std::string client_request_token;  // becomes the version id; generated when empty
};

struct secret_filter {
  std::string key;  // description | name | tag-key | tag-value | all (primary-region, owning-service match nothing)
  std::vector<std::string> values;  // a leading "!" negates
};

struct secret_listing {
  std::vector<secret_info> items;
  std::string next;  // the last name of this page when more follow
};

class secret_vault {
 public:
  static constexpr std::size_t max_versions = 100;

  secret_vault(registry_backends backends, const auth::secret_sealer& sealer, const clock& clk, std::string account_id,
               std::string region)
      : backends_(backends),
        sealer_(sealer),
        clock_(clk),
        account_id_(std::move(account_id)),
        region_(std::move(region)) {}

  // errc::secret_already_exists, invalid_parameter, invalid_request.
  result<secret_info> create(const new_secret& s);
  // By name, full ARN or partial ARN (without the random suffix); errc::secret_not_found, invalid_request
  // (scheduled for deletion). `version_id` and `stage` empty: AWSCURRENT.
  result<secret_version> value(const std::string& secret_id, const std::string& version_id, const std::string& stage);
  // `stages` empty: AWSCURRENT (moving AWSPREVIOUS with it).
  result<secret_version> put_value(const std::string& secret_id, const std::string& client_request_token,
                                   const secret_value& v, std::vector<std::string> stages);
  result<secret_info> describe(const std::string& secret_id);
  // By name; every filter must match (a filter's values: any).
  result<secret_listing> list(const std::vector<secret_filter>& filters, bool include_planned_deletion,
                              const std::string& after, std::size_t limit);
  // `recovery_days` 7–30 (default 30), or removed now with `force`.
  result<secret_info> remove(const std::string& secret_id, std::optional<int> recovery_days, bool force);

  std::string arn_prefix() const;  // arn:aws:secretsmanager:<region>:<account>:secret:

 private:
  result<meta::vault_secret_row> resolve(const std::string& secret_id, bool allow_deleted);
  result<secret_info> info_of(const meta::vault_secret_row& row);

  registry_backends backends_;
  const auth::secret_sealer& sealer_;
  const clock& clock_;
  std::string account_id_;
  std::string region_;
};

}  // namespace berth
