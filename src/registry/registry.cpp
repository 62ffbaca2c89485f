// The registry: construction, blobs, recovery. Uploads are in uploads.cpp, manifests and images in
// manifests.cpp.
#include "berth/registry/registry.hpp"

#include <spdlog/spdlog.h>

#include "berth/meta/metadata_store.hpp"
#include "berth/storage/blob_store.hpp"
#include "berth/storage/upload_store.hpp"
#include "blob_removal.hpp"

namespace berth {

registry::registry(registry_backends backends, repository_catalog& repositories, const clock& clk,
                   registry_options options)
    : backends_(backends),
      repositories_(repositories),
      clock_(clk),
      options_(options),
      writer_id_((options_.server_identity.empty() ? "" : options_.server_identity + " ") + "writer-" +
                 new_upload_id()) {}

registry::~registry() = default;

result<void> registry::require_repository(const std::string& repo) {
  auto row = backends_.meta.repositories().find(repo);
  if (!row) return row.take_error();
  if (!*row) return repositories_.repository_not_found(repo);
  return {};
}

result<std::uint64_t> registry::blob_size(const std::string& repo, const digest& d) {
  auto size = backends_.meta.blobs().linked_size(repo, d.str());
  if (!size) return size.take_error();
  if (!*size) {
    if (auto r = require_repository(repo); !r) return r.take_error();
    return make_error(errc::blob_unknown, "blob unknown to registry", digest_detail{d.str()});
  }
  return static_cast<std::uint64_t>(**size);
}

result<std::shared_ptr<blob_content>> registry::open_blob(const std::string& repo, const digest& d) {
  auto size = blob_size(repo, d);
  if (!size) return size.take_error();
  return backends_.blobs.open_blob(d);
}

result<void> registry::delete_blob(const std::string& repo, const digest& d) {
  auto removed = backends_.meta.blobs().unlink(repo, d.str());
  if (!removed) return removed.take_error();
  if (!*removed) return make_error(errc::blob_unknown, "blob unknown to registry");
  return {};
}

result<bool> registry::mount_blob(const std::string& repo, const std::string& from, const digest& d) {
  if (auto r = repositories_.require_for_push(repo); !r) return r.take_error();
  if (!is_valid_repository_name(from) || !repositories_.blob_mounting_enabled()) return false;
  auto present = backends_.blobs.stat_blob(d);
  if (!present) return present.take_error();
  if (!*present) return false;
  return backends_.meta.blobs().mount(repo, from, d.str(), clock_.now_seconds());
}

void registry::recover() {
  blob_removal removal(backends_, clock_, writer_id_);
  removal.recover();
  if (!options_.server_identity.empty()) {
    // Claims a killed predecessor held would block its clients' retries until they expired.
    if (auto r = backends_.meta.uploads().release_claims_of(options_.server_identity + " writer-"); !r) {
      spdlog::warn("releasing the upload claims of a previous run failed: {}", r.error_value().message);
    }
  }
}

void registry::release_memory() {
  backends_.meta.release_memory();
  backends_.uploads.release_memory();
}

}  // namespace berth
