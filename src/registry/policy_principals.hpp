// Checks a repository or registry policy as ECR does and binds the users it names: for each user
// ARN of this account, the id of the user who has it now (IAM stores a named user as its id, so a
// user deleted and created again under the same name is another principal). Internal to registry/.
#pragma once

#include <string>

#include "berth/core/error.hpp"
#include "berth/meta/identity_index.hpp"

namespace berth {

// JSON object ARN → user id; errc::malformed_policy_document with ECR's wording naming `field`.
result<std::string> bind_policy_principals(meta::identity_index& ids, const std::string& account_id,
                                           const std::string& text, bool registry_policy, const std::string& field);

}  // namespace berth
