// Sends each request to the API it belongs to: /v2/… to the registry API, POST / with X-Amz-Target
// secretsmanager.<Op> to the Secrets Manager API, any other X-Amz-Target to the ECR API, POST / with
// a form body to the IAM/STS Query API, /healthz, /readyz and /metrics to the operator's endpoints.
#pragma once

#include "berth/ecr/ecr_api.hpp"
#include "berth/http/message.hpp"
#include "berth/iam/query_api.hpp"
#include "berth/observability/ops_endpoints.hpp"
#include "berth/oci/v2_handler.hpp"
#include "berth/secrets/secrets_api.hpp"

namespace berth::cli {

class api_router final : public http::request_handler {
 public:
  api_router(oci::v2_handler& v2, const ecr::ecr_api& ecr, const iam::query_api* query = nullptr,
             const secrets::secrets_api* secrets = nullptr, const observability::ops_endpoints* ops = nullptr)
      : v2_(v2), ecr_(ecr), query_(query), secrets_(secrets), ops_(ops) {}
  std::unique_ptr<http::exchange> route(const http::request& head) override;
  // A registry's clients are mostly V2 clients: refusals are answered as the V2 API answers them.
  http::response refuse(http::refusal why) override { return v2_.refuse(why); }

 private:
  oci::v2_handler& v2_;
  const ecr::ecr_api& ecr_;
  const iam::query_api* query_;  // null with auth: none (no identities to manage)
  const secrets::secrets_api* secrets_;
  const observability::ops_endpoints* ops_;
};

// The separate metrics listener (metrics.listen): the operator's endpoints only, no credentials.
class ops_router final : public http::request_handler {
 public:
  explicit ops_router(const observability::ops_endpoints& ops) : ops_(ops) {}
  std::unique_ptr<http::exchange> route(const http::request& head) override;
  http::response refuse(http::refusal why) override;

 private:
  const observability::ops_endpoints& ops_;
};

}  // namespace berth::cli
