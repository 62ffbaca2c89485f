#include "berth/registry/replication_rules.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "berth/meta/metadata_store.hpp"

namespace berth {
namespace {

// Where the configuration is kept: a registry-wide setting, ECR's JSON shape.
constexpr const char* setting_name = "berth:replication-configuration";
constexpr std::int64_t refresh_seconds = 2;

error invalid(const std::string& constraint) {
  return make_error(
      errc::invalid_parameter,
      "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: '" + constraint + "'");
}

std::string to_text(const std::vector<replication_rule>& rules) {
  auto out = nlohmann::json::array();
  for (const auto& r : rules) {
    nlohmann::json rule{{"destinations", nlohmann::json::array()}};
    for (const auto& d : r.destinations)
      rule["destinations"].push_back({{"region", d.region}, {"registryId", d.registry_id}});
    if (!r.prefixes.empty()) rule["repositoryFilters"] = r.prefixes;
    out.push_back(std::move(rule));
  }
  return out.dump();
}

std::vector<replication_rule> from_text(const std::string& text) {
  std::vector<replication_rule> rules;
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_array()) return rules;
  for (const auto& r : doc) {
    replication_rule rule;
    for (const auto& d : r.value("destinations", nlohmann::json::array())) {
      rule.destinations.push_back({d.value("region", ""), d.value("registryId", "")});
    }
    for (const auto& p : r.value("repositoryFilters", nlohmann::json::array())) {
      if (p.is_string()) rule.prefixes.push_back(p.get<std::string>());
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

}  // namespace

replication_rules::replication_rules(registry_backends backends, std::vector<replication_peer> peers,
                                     std::string account_id, std::string region, const clock& clk)
    : backends_(backends),
      peers_(std::move(peers)),
      account_id_(std::move(account_id)),
      region_(std::move(region)),
      clock_(clk) {}

result<std::vector<replication_rule>> replication_rules::put(std::vector<replication_rule> rules) {
  auto checked = check(std::move(rules), peers_, account_id_, region_);
  if (!checked) return checked.take_error();
  if (auto r = backends_.meta.settings().put_account_setting(setting_name, to_text(*checked)); !r) {
    return r.take_error();
  }
  changes_.fetch_add(1);
  return checked;
}

result<std::vector<replication_rule>> replication_rules::check(std::vector<replication_rule> rules,
                                                               const std::vector<replication_peer>& peers,
                                                               const std::string& account_id,
                                                               const std::string& region) {
  auto known = [&](const replication_destination& d) {
    return std::any_of(peers.begin(), peers.end(), [&](const replication_peer& p) {
      return p.region == d.region && p.registry_id == d.registry_id;
    });
  };
  if (rules.size() > max_replication_rules) {
    return invalid("A replication configuration can have at most " + std::to_string(max_replication_rules) + " rules");
  }
  std::set<replication_destination> unique;
  for (auto& rule : rules) {
    if (rule.destinations.empty()) return invalid("A replication rule must have at least one destination");
    if (rule.prefixes.size() > max_replication_filters) {
      return invalid("A replication rule can have at most " + std::to_string(max_replication_filters) +
                     " repository filters");
    }
    std::vector<replication_destination> seen;
    for (const auto& d : rule.destinations) {
      if (d.region == region && d.registry_id == account_id) {
        return invalid("Replication destination cannot be the same as the source registry");
      }
      if (!known(d)) {
        return invalid("Replication destination " + d.region + "/" + d.registry_id +
                       " is not a configured peer (replication.peers)");
      }
      if (std::find(seen.begin(), seen.end(), d) == seen.end()) seen.push_back(d);
      unique.insert(d);
    }
    rule.destinations = std::move(seen);
  }
  if (unique.size() > max_replication_destinations) {
    return invalid("A replication configuration can have at most " + std::to_string(max_replication_destinations) +
                   " unique destinations");
  }
  return rules;
}

result<std::vector<replication_rule>> replication_rules::all() {
  auto text = backends_.meta.settings().account_setting(setting_name);
  if (!text) return text.take_error();
  if (!*text) return std::vector<replication_rule>{};
  return from_text(**text);
}

std::vector<replication_destination> replication_rules::match(const std::vector<replication_rule>& rules,
                                                              const std::string& repository) {
  std::vector<replication_destination> out;
  for (const auto& rule : rules) {
    const bool covered =
        rule.prefixes.empty() || std::any_of(rule.prefixes.begin(), rule.prefixes.end(),
                                             [&](const std::string& p) { return repository.starts_with(p); });
    if (!covered) continue;
    for (const auto& d : rule.destinations) {
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
  }
  return out;
}

result<std::vector<std::pair<std::string, std::string>>> replication_rules::destinations_for(
    const std::string& repository) {
  std::vector<std::pair<std::string, std::string>> out;
  if (peers_.empty()) return out;  // nothing can be configured without peers
  auto rules = snapshot();
  if (!rules) return rules.take_error();
  for (auto& d : match(**rules, repository)) out.emplace_back(std::move(d.region), std::move(d.registry_id));
  return out;
}

const replication_peer* replication_rules::peer(const replication_destination& d) const {
  for (const auto& p : peers_) {
    if (p.region == d.region && p.registry_id == d.registry_id) return &p;
  }
  return nullptr;
}

result<std::shared_ptr<const std::vector<replication_rule>>> replication_rules::snapshot() {
  const auto now = clock_.now_seconds();
  const auto changes = changes_.load();
  auto fresh = [&] { return snapshot_ && now >= read_at_ && now - read_at_ < refresh_seconds && changes == seen_; };
  {
    std::shared_lock lock(mutex_);
    if (fresh()) return snapshot_;
  }
  std::unique_lock lock(mutex_);
  if (fresh()) return snapshot_;
  auto rules = all();
  if (!rules) return rules.take_error();
  snapshot_ = std::make_shared<const std::vector<replication_rule>>(std::move(*rules));
  read_at_ = now;
  seen_ = changes;
  return snapshot_;
}

}  // namespace berth
