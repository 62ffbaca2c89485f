// The V2 / OCI distribution API adapter: routes /v2/ requests to registry operations and maps
// results and errors to the wire format.
#pragma once

#include "berth/http/message.hpp"
#include "berth/oci/v2_authenticator.hpp"
#include "berth/registry/registry.hpp"

namespace berth::oci {

class v2_handler final : public http::request_handler {
 public:
  // `authenticator` null: no authentication (auth: none); `access` null: no authorization.
  explicit v2_handler(registry& reg, const v2_authenticator* authenticator = nullptr,
                      const access_control* access = nullptr)
      : reg_(reg), authenticator_(authenticator), access_(access) {}
  std::unique_ptr<http::exchange> route(const http::request& head) override;
  // Over the connection limit: TOOMANYREQUESTS in the V2 error shape; the rest as plain text.
  http::response refuse(http::refusal why) override;

 private:
  registry& reg_;
  const v2_authenticator* authenticator_;
  const access_control* access_;
};

}  // namespace berth::oci
