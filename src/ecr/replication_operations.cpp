// PutReplicationConfiguration, DescribeRegistry (the configuration) and
// DescribeImageReplicationStatus (the replicator's report per destination).
#include "operations.hpp"

namespace berth::ecr {
namespace {

json rules_json(const std::vector<replication_rule>& rules) {
  json out = json::array();
  for (const auto& r : rules) {
    json rule{{"destinations", json::array()}};
    for (const auto& d : r.destinations)
      rule["destinations"].push_back({{"region", d.region}, {"registryId", d.registry_id}});
    if (!r.prefixes.empty()) {
      rule["repositoryFilters"] = json::array();
      for (const auto& p : r.prefixes)
        rule["repositoryFilters"].push_back({{"filter", p}, {"filterType", "PREFIX_MATCH"}});
    }
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace

std::vector<replication_rule> replication_rules_of(const json& in) {
  std::vector<replication_rule> rules;
  for (const auto& r : in["replicationConfiguration"]["rules"]) {
    replication_rule rule;
    for (const auto& d : r["destinations"]) rule.destinations.push_back({str(d, "region"), str(d, "registryId")});
    if (auto f = r.find("repositoryFilters"); f != r.end()) {
      for (const auto& p : *f) rule.prefixes.push_back(str(p, "filter"));
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

namespace {

result<json> put_replication_configuration(call_context& ctx, const json& in) {
  if (ctx.replication.rules == nullptr) {
    return make_error(errc::unsupported_operation, "This registry has no replication");
  }
  // The model has checked the shape (lengths, patterns, the filter type); the domain the rest.
  auto stored = ctx.replication.rules->put(replication_rules_of(in));
  if (!stored) return stored.take_error();
  return json{{"replicationConfiguration", {{"rules", rules_json(*stored)}}}};
}

result<json> describe_registry(call_context& ctx, const json&) {
  std::vector<replication_rule> rules;
  if (ctx.replication.rules != nullptr) {
    auto all = ctx.replication.rules->all();
    if (!all) return all.take_error();
    rules = std::move(*all);
  }
  return json{{"registryId", ctx.settings.account_id}, {"replicationConfiguration", {{"rules", rules_json(rules)}}}};
}

result<json> describe_image_replication_status(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  if (ctx.replication.worker == nullptr) {
    return make_error(errc::unsupported_operation, "This registry has no replication");
  }
  const auto repo = str(in, "repositoryName");
  const auto& id = in["imageId"];
  const auto digest = str(id, "imageDigest");
  const auto tag = str(id, "imageTag");
  auto found = ctx.replication.worker->status(repo, digest, tag);
  if (!found) {
    if (found.error_value().code == errc::image_not_found) {
      return make_error(errc::image_not_found,
                        "The image with imageId {imageDigest:'" + str(id, "imageDigest", "null") + "', imageTag:'" +
                            str(id, "imageTag", "null") + "'} does not exist within the repository with name '" + repo +
                            "' in the registry with id '" + ctx.settings.account_id + "'");
    }
    return found.take_error();
  }
  json statuses = json::array();
  for (const auto& s : found->second) {
    json one{{"region", s.region}, {"registryId", s.registry_id}, {"status", s.status}};
    if (!s.failure_code.empty()) one["failureCode"] = s.failure_code;
    statuses.push_back(std::move(one));
  }
  json image_id{{"imageDigest", found->first}};
  if (!tag.empty()) image_id["imageTag"] = tag;
  return json{{"repositoryName", repo}, {"imageId", image_id}, {"replicationStatuses", statuses}};
}

}  // namespace

void add_replication_operations(std::map<std::string, operation>& t) {
  t["PutReplicationConfiguration"] = put_replication_configuration;
  t["DescribeRegistry"] = describe_registry;
  t["DescribeImageReplicationStatus"] = describe_image_replication_status;
}

}  // namespace berth::ecr
