// CreatePullThroughCacheRule, DescribePullThroughCacheRules, UpdatePullThroughCacheRule,
// DeletePullThroughCacheRule, ValidatePullThroughCacheRule: each answers with the members its
// response shape has in the model (Update has no URL or createdAt, Delete no upstreamRegistry).
#include "operations.hpp"

namespace berth::ecr {
namespace {

result<pull_through_rules*> rules_of(call_context& ctx) {
  if (ctx.cache.rules == nullptr) {
    return make_error(errc::unsupported_operation, "This registry has no pull-through cache");
  }
  return ctx.cache.rules;
}

// The members every response has, then those its shape adds.
json rule_json(const call_context& ctx, const pull_through_rule& r) {
  json out = {{"ecrRepositoryPrefix", r.prefix},
              {"registryId", ctx.settings.account_id},
              {"upstreamRepositoryPrefix", r.upstream_prefix}};
  if (!r.credential_arn.empty()) out["credentialArn"] = r.credential_arn;
  if (!r.custom_role_arn.empty()) out["customRoleArn"] = r.custom_role_arn;
  return out;
}

json full_rule_json(const call_context& ctx, const pull_through_rule& r) {
  auto out = rule_json(ctx, r);
  out["upstreamRegistryUrl"] = r.upstream_url;
  out["createdAt"] = r.created_at;
  return out;
}

result<json> create_rule(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto rules = rules_of(ctx);
  if (!rules) return rules.take_error();
  pull_through_rule r;
  r.prefix = str(in, "ecrRepositoryPrefix");
  r.upstream_url = str(in, "upstreamRegistryUrl");
  r.upstream_registry = str(in, "upstreamRegistry");
  r.credential_arn = str(in, "credentialArn");
  r.custom_role_arn = str(in, "customRoleArn");
  r.upstream_prefix = str(in, "upstreamRepositoryPrefix", "ROOT");
  auto created = (*rules)->create(std::move(r));
  if (!created) return created.take_error();
  auto out = full_rule_json(ctx, *created);
  if (!created->upstream_registry.empty()) out["upstreamRegistry"] = created->upstream_registry;
  return out;
}

result<json> describe_rules(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto rules = rules_of(ctx);
  if (!rules) return rules.take_error();
  std::vector<pull_through_rule> listed;
  if (in.contains("ecrRepositoryPrefixes")) {
    for (const auto& p : in["ecrRepositoryPrefixes"]) {
      auto r = (*rules)->find(p.get<std::string>());
      if (!r) return r.take_error();
      if (std::none_of(listed.begin(), listed.end(), [&](const auto& x) { return x.prefix == r->prefix; })) {
        listed.push_back(std::move(*r));
      }
    }
    std::sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return a.prefix < b.prefix; });
  } else {
    auto all = (*rules)->all();
    if (!all) return all.take_error();
    listed = std::move(*all);
  }
  json items = json::array();
  auto next = fill_page(
      in, 100, listed, [](const pull_through_rule& r) { return r.prefix; },
      [&](const pull_through_rule& r) {
        auto j = full_rule_json(ctx, r);
        if (!r.upstream_registry.empty()) j["upstreamRegistry"] = r.upstream_registry;
        j["updatedAt"] = r.updated_at;
        items.push_back(std::move(j));
      });
  if (!next) return next.take_error();
  json out = {{"pullThroughCacheRules", std::move(items)}};
  if (!next->empty()) out["nextToken"] = *next;
  return out;
}

result<json> update_rule(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto rules = rules_of(ctx);
  if (!rules) return rules.take_error();
  auto updated = (*rules)->update(str(in, "ecrRepositoryPrefix"), str(in, "credentialArn"), str(in, "customRoleArn"));
  if (!updated) return updated.take_error();
  auto out = rule_json(ctx, *updated);
  out["updatedAt"] = updated->updated_at;
  return out;
}

result<json> delete_rule(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto rules = rules_of(ctx);
  if (!rules) return rules.take_error();
  auto removed = (*rules)->remove(str(in, "ecrRepositoryPrefix"));
  if (!removed) return removed.take_error();
  return full_rule_json(ctx, *removed);
}

result<json> validate_rule(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto rules = rules_of(ctx);
  if (!rules) return rules.take_error();
  const auto prefix = str(in, "ecrRepositoryPrefix");
  auto rule = (*rules)->find(prefix);
  if (!rule) return rule.take_error();
  auto failure = (*rules)->validate(prefix, ctx.cache.probe);
  if (!failure) return failure.take_error();
  auto out = rule_json(ctx, *rule);
  out["upstreamRegistryUrl"] = rule->upstream_url;
  out["isValid"] = failure->empty();
  if (!failure->empty()) out["failure"] = *failure;
  return out;
}

}  // namespace

void add_pull_through_operations(std::map<std::string, operation>& t) {
  t["CreatePullThroughCacheRule"] = create_rule;
  t["DescribePullThroughCacheRules"] = describe_rules;
  t["UpdatePullThroughCacheRule"] = update_rule;
  t["DeletePullThroughCacheRule"] = delete_rule;
  t["ValidatePullThroughCacheRule"] = validate_rule;
}

}  // namespace berth::ecr
