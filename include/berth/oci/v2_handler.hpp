// The V2 / OCI distribution API adapter: routes /v2/ requests to registry operations and maps
// results and errors to the wire format.
#pragma once

#include "berth/http/message.hpp"
#include "berth/oci/v2_authenticator.hpp"
#include "berth/registry/pull_through_cache.hpp"
#include "berth/registry/registry.hpp"

namespace berth::oci {

class v2_handler final : public http::request_handler {
 public:
  // `authenticator` null: no authentication (auth: none); `access` null: no authorization.
  // `cache` null: no pull-through cache.
  explicit v2_handler(registry& reg, const v2_authenticator* authenticator = nullptr,
                      const access_control* access = nullptr, pull_through_cache* cache = nullptr)
      : reg_(reg), authenticator_(authenticator), access_(access), cache_(cache) {}
  std::unique_ptr<http::exchange> route(const http::request& head) override;
  // Over the connection limit: TOOMANYREQUESTS in the V2 error shape; the rest as plain text.
  http::response refuse(http::refusal why) override;

 private:
  // The cache, for a read of a repository it covers by a caller who may import into it.
  pull_through_cache* through_cache(const http::request& head, const v2_route& r, const auth::identity& who) const;
  registry& reg_;
  const v2_authenticator* authenticator_;
  const access_control* access_;
  pull_through_cache* cache_;
};

}  // namespace berth::oci
