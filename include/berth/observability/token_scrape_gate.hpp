// /metrics on the main listener, with authentication on: the scraper sends a login token (Bearer,
// or Basic AWS:<token> as docker does) of an identity allowed ecr:DescribeRegistry, the action
// that reads registry-wide state. Prometheus sends either with `authorization` or `basic_auth`.
#pragma once

#include "berth/auth/login_token.hpp"
#include "berth/core/clock.hpp"
#include "berth/observability/ops_endpoints.hpp"
#include "berth/registry/access_control.hpp"

namespace berth::observability {

class token_scrape_gate final : public scrape_gate {
 public:
  token_scrape_gate(const auth::login_token_issuer& tokens, const access_control& access, const clock& clk)
      : tokens_(tokens), access_(access), clock_(clk) {}
  std::optional<http::response> refuse(const http::request& req) const override;

 private:
  const auth::login_token_issuer& tokens_;
  const access_control& access_;
  const clock& clock_;
};

}  // namespace berth::observability
