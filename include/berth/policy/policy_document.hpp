// IAM policy documents: identity policies (on users and groups), repository policies and the
// registry policy, parsed and validated once, the way IAM and ECR validate them, into a form the
// evaluator (policy_evaluator.hpp) reads without reparsing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::policy {

enum class effect { allow, deny };

// A Principal or NotPrincipal element.
struct principal_set {
  bool anyone = false;             // "*" or {"AWS": "*"}
  std::vector<std::string> aws;    // account ids and IAM ARNs, as written
  std::vector<std::string> other;  // Service, Federated, CanonicalUser: never a Berth caller
};

enum class set_qualifier { none, for_all_values, for_any_value };

// One key of one operator in a Condition block: {"StringLike": {"aws:username": ["ci-*"]}}.
struct condition {
  std::string op;  // the base operator: StringEquals, IpAddress, … (no qualifier, no IfExists)
  set_qualifier qualifier = set_qualifier::none;
  bool if_exists = false;
  std::string key;                  // as written; context keys compare case-insensitively
  std::vector<std::string> values;  // strings, and numbers and booleans as their JSON text
};

struct statement {
  std::string sid;
  effect what = effect::allow;
  bool not_action = false;
  std::vector<std::string> actions;  // "service:Action" with * and ? wildcards, or "*"
  bool has_resource = false;         // a repository policy has none: it is about its repository
  bool not_resource = false;
  std::vector<std::string> resources;  // ARNs with * and ? wildcards, or "*"
  std::optional<principal_set> principal;
  bool not_principal = false;
  std::vector<condition> conditions;  // all must hold
};

struct document {
  std::string version;  // 2012-10-17: policy variables (${aws:username}) are substituted
  std::vector<statement> statements;
};

enum class document_kind {
  identity,    // IAM: no Principal; every statement has Resource or NotResource
  repository,  // ECR SetRepositoryPolicy: Principal required, no Resource
  registry,    // ECR PutRegistryPolicy: Principal required, Resource allowed
};

inline constexpr std::size_t max_identity_policy_length = 131072;  // IAM's PolicyDocument bound
inline constexpr std::size_t max_resource_policy_length = 10240;   // ECR's policyText bound

// errc::malformed_policy_document with IAM's message ("Syntax errors in policy.", "Policy statement
// must contain actions.", …). ECR's adapter words its own ("Invalid repository policy provided").
result<document> parse(std::string_view text, document_kind kind);

}  // namespace berth::policy
