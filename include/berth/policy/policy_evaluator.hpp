// IAM's evaluation logic, for one account: default deny; an explicit Deny in any applicable policy
// wins; otherwise an Allow in one of the caller's identity policies, or in a resource policy (the
// repository's, the registry's) that names the caller, grants. A resource policy that names the
// account ("123456789012", "arn:aws:iam::123456789012:root") delegates to the account's identity
// policies: its Deny applies to every caller of the account, its Allow grants nobody by itself.
// The root identity is never evaluated (its callers allow it before asking).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/policy/policy_document.hpp"

namespace berth::policy {

struct request_context {
  std::string action;         // ecr:PutImage
  std::string resource;       // arn:aws:ecr:<region>:<account>:repository/<name>, or "*"
  std::string principal_arn;  // arn:aws:iam::<account>:user/<name>; empty for an anonymous caller
  std::string account;        // the registry's account id

  // Condition keys (aws:SourceIp, aws:username, ecr:ResourceTag/team, aws:TagKeys, …), each with
  // its values; names compare case-insensitively. A key not set is absent from the request.
  void set(std::string key, std::vector<std::string> values);
  void set(std::string key, std::string value) { set(std::move(key), std::vector<std::string>{std::move(value)}); }
  const std::vector<std::string>* find(std::string_view key) const;

 private:
  // Names compare without regard to ASCII case, so a lookup builds no lower-case copy.
  struct case_insensitive_less {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  std::map<std::string, std::vector<std::string>, case_insensitive_less> keys_;
};

enum class verdict { allow, implicit_deny, explicit_deny };
enum class policy_source { none, identity, resource };

struct decision {
  verdict result = verdict::implicit_deny;
  policy_source source = policy_source::none;  // which kind of policy allowed or denied
  friend bool operator==(const decision&, const decision&) = default;
};

// The context keys a document's conditions read, lower case, or nullopt when it may read any (it
// uses policy variables): a caller builds only those (the hot path sets no key nobody reads).
std::optional<std::vector<std::string>> context_keys(const document& doc);

decision evaluate(const std::vector<const document*>& identity_policies,
                  const std::vector<const document*>& resource_policies, const request_context& request);

}  // namespace berth::policy
