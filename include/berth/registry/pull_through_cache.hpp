// The pull-through cache: pulls from repositories a rule covers are served locally when the
// content is here, and otherwise from the upstream while it is stored.
//
// - A manifest not here is fetched, verified (its digest: the one asked for, and the one the
//   upstream announced) and answered at once; it is stored once every blob it needs is here. That
//   wait is an import, durable in the metadata (meta::cache_index): any server's worker finishes
//   it, fetching what the client did not, and retries with back-off while the upstream is down.
// - A blob not here streams to the client as it arrives from the upstream and is written to an
//   upload session at the same time; at the end its digest is verified before the last bytes go
//   out, and the blob is committed. Concurrent requests for the blob (and the worker) wait for
//   that one fetch instead of starting their own.
// - A tag is compared with the upstream's at most once per `tag_check_seconds`; with the upstream
//   unreachable the cached image keeps being served.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/core/names.hpp"
#include "berth/registry/pull_through_rules.hpp"
#include "berth/registry/registry.hpp"
#include "berth/registry/upstream_registry.hpp"

namespace berth {

inline constexpr std::size_t max_cached_referrers = 100;

struct cache_settings {
  std::int64_t tag_check_seconds = 24 * 3600;
  // An import waits this long before its worker starts, so the client's own blob requests come
  // first (and stream) rather than wait for the worker's fetch.
  std::int64_t import_delay_seconds = 3;
  std::int64_t import_hold_seconds = 600;
  int max_import_attempts = 12;
};

class pull_through_cache {
 public:
  pull_through_cache(registry& reg, registry_backends backends, pull_through_rules& rules,
                     upstream_connector& connector, const clock& clk, cache_settings settings = {});
  ~pull_through_cache();

  // Whether a rule covers the repository (the rules are read again every few seconds, and at once
  // after a change through this process).
  bool covers(const std::string& repository);

  // The V2 reads of a covered repository.
  result<manifest_content> manifest(const std::string& repository, const reference& ref,
                                    const std::vector<std::string>& accept, bool pull);
  result<std::shared_ptr<blob_content>> blob(const std::string& repository, const digest& d);
  result<std::uint64_t> blob_size(const std::string& repository, const digest& d);
  // The referrers API: those here, and those the upstream lists that are not here yet (each
  // fetched, verified and queued for import as a pull by digest would be; at most
  // max_cached_referrers). With the upstream unreachable, those here.
  result<std::vector<referrer_info>> referrers(const std::string& repository, const digest& subject);

  // Runs one due import; false when there was none.
  bool import_next(const std::string& holder);

 private:
  struct flight;
  class teeing_blob;
  friend class teeing_blob;

  result<std::shared_ptr<const std::vector<pull_through_rule>>> rules_now();
  result<upstream_target> target_of(const std::string& repository);
  result<std::shared_ptr<upstream_registry>> upstream_for(const upstream_target& t);
  result<manifest_content> fetch_manifest(const std::string& repository, const upstream_target& t,
                                          const std::string& reference, const std::vector<std::string>& accept);
  // The blob here, fetching it first when it is not (through the shared fetch).
  result<std::shared_ptr<blob_content>> fetch_blob(const std::string& repository, const digest& d, bool streaming);
  result<void> import(const std::string& repository, const std::string& tag, const std::string& media_type,
                      const std::string& content, int depth);
  void land(const std::string& key, const std::shared_ptr<flight>& f, std::optional<error> failure);

  registry& reg_;
  registry_backends backends_;
  pull_through_rules& rules_;
  upstream_connector& connector_;
  const clock& clock_;
  cache_settings settings_;

  std::shared_mutex rules_mutex_;
  std::shared_ptr<const std::vector<pull_through_rule>> rules_snapshot_;
  std::int64_t rules_read_at_ = 0;
  std::uint64_t rules_seen_ = 0;
  std::mutex mutex_;                                        // flights_
  std::map<std::string, std::shared_ptr<flight>> flights_;  // "repository@digest" → its fetch
};

}  // namespace berth
