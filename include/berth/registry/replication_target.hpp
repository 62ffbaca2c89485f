// A destination registry as the replicator sees it: repositories, blobs and manifests it may
// already hold, and pushes into it. The HTTP implementation (src/upstream/) speaks the peer's ECR
// API (CreateRepository, GetAuthorizationToken, SigV4) and its V2 API; tests and the domain see
// only this.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "berth/core/byte_source.hpp"
#include "berth/core/digest.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/model.hpp"
#include "berth/registry/replication_rules.hpp"

namespace berth {

// Errors: errc::unavailable (unreachable, failing: worth another attempt later), errc::denied
// (the peer refused the credentials or the action), errc::tag_immutable, and the peer's own
// refusals as errc::manifest_invalid / blob_upload_invalid.
class replication_target {
 public:
  virtual ~replication_target() = default;
  // Creates the repository with these settings unless it exists.
  virtual result<void> ensure_repository(const std::string& name, const repository_config& settings) = 0;
  virtual result<bool> has_blob(const std::string& repository, const digest& d) = 0;
  // true when the peer mounted the blob from `from`; false: send it instead.
  virtual result<bool> mount_blob(const std::string& repository, const std::string& from, const digest& d) = 0;
  virtual result<void> push_blob(const std::string& repository, const digest& d, std::uint64_t size,
                                 byte_reader& body) = 0;
  virtual result<bool> has_manifest(const std::string& repository, const std::string& digest) = 0;
  // `reference`: a tag or the manifest's digest.
  virtual result<void> push_manifest(const std::string& repository, const std::string& reference,
                                     const std::string& media_type, const std::string& content) = 0;
};

class replication_connector {
 public:
  virtual ~replication_connector() = default;
  virtual std::shared_ptr<replication_target> connect(const replication_peer& peer) = 0;
};

}  // namespace berth
