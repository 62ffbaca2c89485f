// The V2 / OCI distribution API adapter: routes /v2/ requests to registry operations and maps
// results and errors to the wire format.
#pragma once

#include "berth/http/message.hpp"
#include "berth/registry/registry.hpp"

namespace berth::oci {

class v2_handler final : public http::request_handler {
 public:
  explicit v2_handler(registry& reg) : reg_(reg) {}
  std::unique_ptr<http::exchange> route(const http::request& head) override;

 private:
  registry& reg_;
};

}  // namespace berth::oci
