// Repository and registry policies: validated as ECR validates them (a repository policy names
// principals and no Resource; a principal of this account must exist), stored in the identity
// role, read by access_control on the next request.
#pragma once

#include <string>

#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

class resource_policies {
 public:
  resource_policies(registry_backends backends, const clock& clk, std::string account_id)
      : backends_(backends), clock_(clk), account_id_(std::move(account_id)) {}

  // errc::malformed_policy_document with ECR's message ("Invalid parameter at 'PolicyText' failed
  // to satisfy constraint: 'Invalid repository policy provided'"), errc::name_unknown.
  result<void> set_repository_policy(const std::string& repository, const std::string& text);
  // errc::repository_policy_not_found, errc::name_unknown.
  result<std::string> repository_policy(const std::string& repository);
  // The policy removed.
  result<std::string> delete_repository_policy(const std::string& repository);

  result<void> put_registry_policy(const std::string& text);
  // errc::registry_policy_not_found.
  result<std::string> registry_policy();
  result<std::string> delete_registry_policy();

  // Validation alone ("repository" or "registry" wording), for creation templates. Returns the
  // ids of the users it names, as stored with it (meta::stored_policy::principal_ids).
  result<std::string> validate(const std::string& text, bool registry_policy, const std::string& field = "PolicyText");

 private:
  registry_backends backends_;
  const clock& clock_;
  std::string account_id_;
};

}  // namespace berth
