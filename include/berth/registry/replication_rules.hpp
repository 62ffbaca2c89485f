// The registry's replication configuration as ECR keeps it: rules, each with destinations
// ({region, registryId}) and optional PREFIX_MATCH repository filters. A destination is another
// Berth, a peer the operator lists in the config with its endpoint and the credentials Berth signs
// in with there. This holds the configuration's validation (ECR's limits and words), which
// destinations a push to a repository goes to, and the peers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct replication_destination {
  std::string region;
  std::string registry_id;
  bool operator==(const replication_destination&) const = default;
  auto operator<=>(const replication_destination&) const = default;
};

struct replication_rule {
  std::vector<replication_destination> destinations;
  std::vector<std::string> prefixes;  // PREFIX_MATCH filters; none: every repository
};

struct replication_peer {
  std::string region;
  std::string registry_id;
  std::string endpoint;  // http(s)://host[:port]
  std::string access_key_id;
  std::string secret_access_key;
};

// ECR's quotas (service quotas page; the model allows 100 destinations per rule).
inline constexpr std::size_t max_replication_rules = 10;
inline constexpr std::size_t max_replication_destinations = 25;  // unique, across all rules
inline constexpr std::size_t max_replication_filters = 100;      // per rule

class replication_rules : public replication_targets {
 public:
  replication_rules(registry_backends backends, std::vector<replication_peer> peers, std::string account_id,
                    std::string region, const clock& clk);

  // errc::invalid_parameter (ECR's words) for a configuration that breaks a rule; `rules` empty
  // turns replication off.
  result<std::vector<replication_rule>> put(std::vector<replication_rule> rules);
  result<std::vector<replication_rule>> all();
  // put's validation, without storing: the rules as they would be kept (repeated destinations once).
  static result<std::vector<replication_rule>> check(std::vector<replication_rule> rules,
                                                     const std::vector<replication_peer>& peers,
                                                     const std::string& account_id, const std::string& region);

  // Where a push to `repository` is copied (each destination once); read from a snapshot of the
  // configuration refreshed every few seconds and at once after a change through this process.
  result<std::vector<std::pair<std::string, std::string>>> destinations_for(const std::string& repository) override;
  static std::vector<replication_destination> match(const std::vector<replication_rule>& rules,
                                                    const std::string& repository);

  const replication_peer* peer(const replication_destination& d) const;
  const std::vector<replication_peer>& peers() const { return peers_; }

 private:
  result<std::shared_ptr<const std::vector<replication_rule>>> snapshot();

  registry_backends backends_;
  std::vector<replication_peer> peers_;
  std::string account_id_;
  std::string region_;
  const clock& clock_;
  std::atomic<std::uint64_t> changes_{0};
  std::shared_mutex mutex_;
  std::shared_ptr<const std::vector<replication_rule>> snapshot_;
  std::int64_t read_at_ = 0;
  std::uint64_t seen_ = 0;
};

}  // namespace berth
