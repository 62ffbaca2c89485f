// Replication's worker and its report. Jobs are written with each push to a repository the
// configuration covers (see meta::replication_index); any server's worker claims one, copies the
// image to its destination (the repository, with the source's settings; the blobs the peer lacks:
// HEAD first, mounted from another repository there when one is known to hold it, else sent; the
// child manifests of an index; then the manifest, by the tag when the source's tag still names it),
// and marks it COMPLETE. An unreachable or failing peer is tried again with back-off for as long
// as max_attempts allows; a refusal (credentials, ecr:ReplicateImage, an immutable tag) is FAILED
// at once, with the failureCode DescribeImageReplicationStatus reports.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/registry/registry.hpp"
#include "berth/registry/replication_rules.hpp"
#include "berth/registry/replication_target.hpp"

namespace berth {

struct replication_settings {
  std::int64_t retry_base_seconds = 5;
  std::int64_t retry_max_seconds = 600;
  int max_attempts = 100;  // ~16 h at the maximum back-off
  std::int64_t hold_seconds = 600;
};

struct replication_status {
  std::string region;
  std::string registry_id;
  std::string status;  // IN_PROGRESS | COMPLETE | FAILED
  std::string failure_code;
};

class replicator {
 public:
  replicator(registry& reg, registry_backends backends, replication_rules& rules, replication_connector& connector,
             const clock& clk, replication_settings settings = {});

  // Runs one due job; false when there was none. A copy renews its hold as it goes.
  bool replicate_next(const std::string& holder);
  // At start-up, for each worker name: what this server's predecessor held when it died is due now.
  void recover(const std::string& holder);

  // DescribeImageReplicationStatus: per destination, for the image `digest` (or `tag`) names.
  // errc::name_unknown (the repository), errc::image_not_found. Returns the digest and statuses.
  result<std::pair<std::string, std::vector<replication_status>>> status(const std::string& repository,
                                                                         const std::string& digest,
                                                                         const std::string& tag);

 private:
  struct outcome;
  using renewal = std::function<void()>;
  result<void> copy_image(replication_target& peer, const replication_destination& dest, const std::string& repository,
                          const std::string& digest, const std::string& reference, int depth, const renewal& renew);
  result<void> copy_blob(replication_target& peer, const replication_destination& dest, const std::string& repository,
                         const digest& d, const renewal& renew);
  std::shared_ptr<replication_target> target_for(const replication_peer& peer);

  registry& reg_;
  registry_backends backends_;
  replication_rules& rules_;
  replication_connector& connector_;
  const clock& clock_;
  replication_settings settings_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<replication_target>> targets_;  // by peer endpoint
};

}  // namespace berth
