// Who may do what, decided once for every adapter (ECR, V2, IAM): finds callers by access key
// (the credential source SigV4 and login tokens use: the configured identities, then the IAM users
// of the metadata) and evaluates their policies with the repository and registry policies.
//
// Everything it reads is cached per access generation (meta::identity_index::generation), which
// every change to identities, policies or repository tags bumps: one small read per request keeps
// the hot path cheap, and a change is visible on the next request, on every server.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/auth/identity.hpp"
#include "berth/auth/secret_sealer.hpp"
#include "berth/core/error.hpp"
#include "berth/policy/policy_evaluator.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

// What a caller asks to do, in IAM's terms.
struct access_request {
  std::string action;      // ecr:PutImage, iam:CreateUser, …
  std::string repository;  // the repository acted on; "" for registry-wide actions
  std::string resource;    // overrides the repository's ARN ("*", "arn:…:repository/*", an IAM ARN)
  std::string source_ip;   // aws:SourceIp
  bool secure_transport = false;
  // aws:RequestTag/<k> and aws:TagKeys, where the request carries tags (CreateRepository, TagResource).
  std::optional<std::vector<std::pair<std::string, std::string>>> request_tags;
};

struct access_settings {
  std::string account_id = "000000000000";
  std::string region = "us-east-1";
};

class access_control final : public auth::credential_source {
 public:
  access_control(registry_backends backends, const auth::credential_store& configured,
                 const auth::secret_sealer& sealer, access_settings settings);
  ~access_control() override;

  std::optional<auth::found_credential> find(const std::string& access_key_id) const override;
  std::optional<auth::identity> identity_for(const std::string& access_key_id) const override;

  // errc::denied with AWS's message ("User: … is not authorized to perform: … on resource: …
  // because no identity-based policy allows the … action"); errc::unavailable when the metadata
  // cannot be read. Root and the configured users are always allowed. The answer does not depend
  // on whether the repository exists.
  result<void> authorize(const auth::identity& who, const access_request& what) const;
  // Whether anyone (Principal "*") may do `action` on `repository` by its policy alone: the
  // optional anonymous pull.
  bool allows_anonymous(const std::string& action, const std::string& repository) const;

  // Whether `candidate`, as the repository's policy, would deny the caller setting it again (the
  // lock-out SetRepositoryPolicy refuses without `force`).
  bool locks_out(const auth::identity& who, const std::string& repository, const policy::document& candidate) const;
  // Whether the caller's pulls leave lastRecordedPullTime alone (a pull-time update exclusion).
  bool pull_time_excluded(const auth::identity& who) const;

  std::string repository_arn(const std::string& repository) const;
  const access_settings& settings() const { return settings_; }

 private:
  struct snapshot;
  struct key_filter;
  std::shared_ptr<snapshot> current() const;
  result<void> check(const auth::identity& who, const access_request& what, const policy::document* candidate,
                     policy::decision* out) const;
  policy::request_context context_for(const auth::identity& who, const access_request& what,
                                      const key_filter& wanted) const;

  registry_backends backends_;
  const auth::credential_store& configured_;
  const auth::secret_sealer& sealer_;
  access_settings settings_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<snapshot> snapshot_;
};

}  // namespace berth
