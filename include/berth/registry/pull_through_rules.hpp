// Pull-through cache rules as ECR keeps them: repositories whose names start with a rule's prefix
// (or every repository, for ROOT) mirror an upstream registry, reached with the credentials of a
// Secrets Manager secret named ecr-pullthroughcache/…. This holds the rules' validation (ECR's
// words), which rule covers a repository and what the upstream calls it, and the credentials.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/registry.hpp"
#include "berth/registry/secret_vault.hpp"

namespace berth {

struct pull_through_rule {
  std::string prefix;             // ecrRepositoryPrefix: ROOT, or a repository name prefix without a trailing '/'
  std::string upstream_url;       // host[:port]
  std::string upstream_registry;  // ECR's enum, "" for a registry ECR has no name for
  std::string credential_arn;
  std::string custom_role_arn;
  std::string upstream_prefix = "ROOT";
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// A repository a rule covers, and its name upstream.
struct upstream_target {
  pull_through_rule rule;
  std::string repository;
};

struct upstream_credentials {
  std::string username;
  std::string access_token;
};

// Whether an upstream answers with the credentials a rule gives (ValidatePullThroughCacheRule):
// "" when it does, else why not. Implemented by the upstream client, outside the domain.
class upstream_probe {
 public:
  virtual ~upstream_probe() = default;
  virtual std::string check(const pull_through_rule& rule, const std::optional<upstream_credentials>& creds) = 0;
};

inline constexpr std::size_t max_pull_through_rules = 50;  // ECR's quota per registry

class pull_through_rules {
 public:
  pull_through_rules(registry_backends backends, secret_vault& vault, const clock& clk)
      : backends_(backends), vault_(vault), clock_(clk) {}

  // errc::pull_through_rule_already_exists, unsupported_upstream_registry, secret_not_found,
  // unable_to_access_secret, invalid_parameter, limit_exceeded.
  result<pull_through_rule> create(pull_through_rule r);
  // errc::pull_through_rule_not_found.
  result<pull_through_rule> find(const std::string& prefix);
  result<std::vector<pull_through_rule>> all();
  result<pull_through_rule> update(const std::string& prefix, const std::string& credential_arn,
                                   const std::string& custom_role_arn);
  result<pull_through_rule> remove(const std::string& prefix);
  // The secret, then the upstream through `probe`: "" when both answer.
  result<std::string> validate(const std::string& prefix, upstream_probe* probe);

  // The rule with the longest prefix covering `repository` (ROOT last), if any.
  result<std::optional<upstream_target>> covering(const std::string& repository);
  static std::optional<upstream_target> match(const std::vector<pull_through_rule>& rules,
                                              const std::string& repository);
  // Counts this process's changes to the rules (a cache of them reads them again when it moves).
  std::uint64_t changes() const { return changes_.load(); }

  // The rule's upstream credentials (none without a credentialArn); the errors of create.
  result<std::optional<upstream_credentials>> credentials(const pull_through_rule& rule);

 private:
  registry_backends backends_;
  secret_vault& vault_;
  const clock& clock_;
  std::atomic<std::uint64_t> changes_{0};
};

}  // namespace berth
