// The Amazon ECR JSON API adapter: POST / with X-Amz-Target, SigV4-authenticated, validated
// against the model, dispatched to the registry domain, answered in ECR's shapes and exceptions.
#pragma once

#include <memory>
#include <string>

#include "berth/auth/login_token.hpp"
#include "berth/auth/sigv4.hpp"
#include "berth/http/message.hpp"
#include "berth/registry/access_control.hpp"
#include "berth/registry/identity_directory.hpp"
#include "berth/registry/lifecycle_service.hpp"
#include "berth/registry/pull_through_rules.hpp"
#include "berth/registry/registry.hpp"
#include "berth/registry/replicator.hpp"
#include "berth/registry/resource_policies.hpp"

namespace berth::ecr {

struct ecr_settings {
  std::string account_id = "000000000000";
  std::string region = "us-east-1";
  std::string public_host;  // host[:port] in repositoryUri/proxyEndpoint; "" → the request's Host
  std::string scheme = "http";
  bool auth_enabled = true;
  std::size_t max_json_body = 32 * 1024 * 1024;  // a 20 MiB layer part, base64 in JSON
};

// Authorization and what it reads: absent (auth: none) every caller may do everything and the
// policy operations answer UnsupportedOperationException.
struct ecr_access {
  const access_control* control = nullptr;
  resource_policies* policies = nullptr;
  identity_directory* directory = nullptr;
};

// Pull-through cache rules, and what checks an upstream for ValidatePullThroughCacheRule; absent,
// the rule operations answer UnsupportedOperationException.
struct ecr_cache {
  pull_through_rules* rules = nullptr;
  upstream_probe* probe = nullptr;
};

// The replication configuration and the replicator's report; absent, DescribeRegistry shows no
// rules and PutReplicationConfiguration / DescribeImageReplicationStatus answer
// UnsupportedOperationException.
struct ecr_replication {
  replication_rules* rules = nullptr;
  replicator* worker = nullptr;
};

class ecr_api {
 public:
  ecr_api(registry& reg, lifecycle_service& lifecycle, const auth::credential_source& credentials,
          const auth::login_token_issuer& tokens, const auth::blob_url_signer& urls, const clock& clk,
          ecr_settings settings, ecr_access access = {}, ecr_cache cache = {}, ecr_replication replication = {});

  // The whole exchange for one POST / (the body is buffered: SigV4 hashes it).
  http::response handle(const http::request& req) const;
  std::unique_ptr<http::exchange> exchange() const;

 private:
  registry& reg_;
  lifecycle_service& lifecycle_;
  const auth::credential_source& credentials_;
  const auth::login_token_issuer& tokens_;
  const auth::blob_url_signer& urls_;
  const clock& clock_;
  ecr_settings settings_;
  ecr_access access_;
  ecr_cache cache_;
  ecr_replication replication_;
  auth::sigv4_verifier verifier_;
};

}  // namespace berth::ecr
