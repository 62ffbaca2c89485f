// An upstream registry as the pull-through cache sees it: manifests, blobs (streamed), and their
// digests and sizes, from one repository there. The HTTP implementation (src/upstream/) speaks
// the V2 API with Basic or Bearer-token authentication; tests and the domain see only this.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/byte_source.hpp"
#include "berth/core/digest.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/pull_through_rules.hpp"

namespace berth {

struct upstream_manifest {
  std::string digest;  // Docker-Content-Digest as the upstream said it ("" when it did not)
  std::string media_type;
  std::string content;
};

struct upstream_blob {
  std::uint64_t size = 0;
  std::unique_ptr<byte_reader> body;
};

// Errors: errc::manifest_unknown / blob_unknown (the upstream has none), errc::denied (it refused
// the credentials), errc::upstream_unavailable (unreachable, failing, rate-limiting, or lying).
class upstream_registry {
 public:
  virtual ~upstream_registry() = default;
  virtual result<upstream_manifest> manifest(const std::string& repository, const std::string& reference,
                                             const std::vector<std::string>& accept) = 0;
  // The digest a tag names now (HEAD), without its bytes.
  virtual result<std::string> manifest_digest(const std::string& repository, const std::string& reference,
                                              const std::vector<std::string>& accept) = 0;
  // The OCI referrers of `subject` there, as an image index (the referrers API, or the referrers
  // tag schema's `sha256-<hex>` tag where the upstream has no such API); "" when it lists none.
  virtual result<std::string> referrers(const std::string& repository, const digest& subject) = 0;
  virtual result<upstream_blob> blob(const std::string& repository, const digest& d) = 0;
  virtual result<std::uint64_t> blob_size(const std::string& repository, const digest& d) = 0;
};

class upstream_connector : public upstream_probe {
 public:
  virtual std::shared_ptr<upstream_registry> connect(const pull_through_rule& rule,
                                                     const std::optional<upstream_credentials>& creds) = 0;
};

}  // namespace berth
