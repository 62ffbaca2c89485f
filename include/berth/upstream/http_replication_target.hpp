// Replication's destinations over HTTP: another Berth (or any registry speaking ECR's JSON API and
// the V2 API). Repositories are created with CreateRepository and login tokens fetched with
// GetAuthorizationToken, both SigV4-signed with the peer's credentials; blobs and manifests go
// through V2 with the token, each request marked X-Berth-Replication so the peer authorizes it as
// ecr:ReplicateImage. Blobs stream from the local store into the request body.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "berth/core/clock.hpp"
#include "berth/http/http_client.hpp"
#include "berth/registry/replication_target.hpp"

namespace berth::upstream {

// The header a replication push carries: the source registry's id (the peer authorizes the push
// as ecr:ReplicateImage instead of the push actions).
inline constexpr const char* replication_header = "X-Berth-Replication";

struct replication_client_settings {
  std::string source_registry_id;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{120000};
};

class http_replication_connector final : public replication_connector {
 public:
  http_replication_connector(replication_client_settings settings, const clock& clk)
      : settings_(std::move(settings)), clock_(clk) {}
  std::shared_ptr<replication_target> connect(const replication_peer& peer) override;

 private:
  replication_client_settings settings_;
  const clock& clock_;
};

}  // namespace berth::upstream
