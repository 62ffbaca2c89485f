// CreateRepository, DescribeRepositories, DeleteRepository, PutImageTagMutability,
// PutImageScanningConfiguration, TagResource, UntagResource, ListTagsForResource.
#include "berth/core/names.hpp"
#include "operations.hpp"

namespace berth::ecr {
namespace {

result<resource_tags> read_tags(const json& in, const char* key) {
  resource_tags tags;
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return tags;
  for (const auto& t : *it) {
    auto k = str(t, "Key");
    auto v = str(t, "Value");
    if (k.empty() || k.size() > 128 || v.size() > 256 || k.starts_with("aws:")) {
      return make_error(errc::invalid_tag_parameter,
                        "The tag key must be 1-128 characters and not start with 'aws:', and the tag value at most "
                        "256 characters");
    }
    tags.emplace_back(std::move(k), std::move(v));
  }
  return tags;
}

// Tag mutability and its exclusion filters, validated together as ECR does.
result<void> read_mutability(const json& in, repository_config& c) {
  if (in.contains("imageTagMutability")) c.image_tag_mutability = str(in, "imageTagMutability");
  bool with_exclusion = c.image_tag_mutability.ends_with("_WITH_EXCLUSION");
  auto filters = in.find("imageTagMutabilityExclusionFilters");
  bool has_filters = filters != in.end() && filters->is_array() && !filters->empty();
  if (with_exclusion && !has_filters) {
    return invalid_parameter(
        "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
        "'must be provided when imageTagMutability is " +
        c.image_tag_mutability + "'");
  }
  if (!with_exclusion && has_filters) {
    return invalid_parameter(
        "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
        "'can only be used with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION'");
  }
  c.exclusion_filters.clear();
  if (has_filters) {
    for (const auto& f : *filters) c.exclusion_filters.push_back(str(f, "filter"));
  }
  return {};
}

result<std::string> repository_from_arn(const call_context& ctx, const std::string& arn) {
  auto prefix = "arn:aws:ecr:" + ctx.settings.region + ":" + ctx.settings.account_id + ":repository/";
  if (!arn.starts_with(prefix) || !is_valid_repository_name(arn.substr(prefix.size()))) {
    return invalid_parameter("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'");
  }
  return arn.substr(prefix.size());
}

result<json> create_repository(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  repository_config c;
  if (auto r = read_mutability(in, c); !r) return r.take_error();
  if (auto s = in.find("imageScanningConfiguration"); s != in.end() && s->is_object()) {
    c.scan_on_push = s->value("scanOnPush", false);
  }
  if (auto e = in.find("encryptionConfiguration"); e != in.end() && e->is_object()) {
    c.encryption_type = str(*e, "encryptionType", "AES256");
    c.kms_key = str(*e, "kmsKey");
    if (c.encryption_type == "AES256" && !c.kms_key.empty()) {
      return invalid_parameter(
          "Invalid parameter at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: "
          "'must not be provided when encryptionType is AES256'");
    }
  }
  auto tags = read_tags(in, "tags");
  if (!tags) return tags.take_error();
  auto created = ctx.repos.create(str(in, "repositoryName"), c, *tags);
  if (!created) return created.take_error();
  return json{{"repository", repository_json(ctx, *created)}};
}

result<json> describe_repositories(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  json repos = json::array();
  if (auto names = in.find("repositoryNames"); names != in.end() && names->is_array()) {
    if (in.contains("maxResults") || in.contains("nextToken")) {
      return invalid_parameter(
          "Invalid parameter at 'maxResults' failed to satisfy constraint: 'cannot be used "
          "with repositoryNames'");
    }
    for (const auto& n : *names) {
      auto r = ctx.repos.get(n.get<std::string>());
      if (!r) return r.take_error();
      repos.push_back(repository_json(ctx, *r));
    }
    return json{{"repositories", repos}};
  }
  auto after = read_next_token(in);
  if (!after) return after.take_error();
  auto limit = page_size(in, 100);
  auto rows = ctx.repos.list(*after, limit + 1);
  if (!rows) return rows.take_error();
  bool more = rows->size() > limit;
  if (more) rows->resize(limit);
  for (const auto& r : *rows) repos.push_back(repository_json(ctx, r));
  json out = {{"repositories", repos}};
  if (more) out["nextToken"] = next_token(rows->back().name);
  return out;
}

result<json> delete_repository(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto removed = ctx.repos.remove(str(in, "repositoryName"), in.value("force", false));
  if (!removed) return removed.take_error();
  return json{{"repository", repository_json(ctx, *removed)}};
}

result<json> put_image_tag_mutability(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto name = str(in, "repositoryName");
  auto current = ctx.repos.get(name);
  if (!current) return current.take_error();
  auto c = current->config;
  if (auto r = read_mutability(in, c); !r) return r.take_error();
  auto updated = ctx.repos.update(name, c);
  if (!updated) return updated.take_error();
  json out = {{"registryId", ctx.settings.account_id},
              {"repositoryName", name},
              {"imageTagMutability", updated->config.image_tag_mutability}};
  auto j = repository_json(ctx, *updated);
  if (j.contains("imageTagMutabilityExclusionFilters")) {
    out["imageTagMutabilityExclusionFilters"] = j["imageTagMutabilityExclusionFilters"];
  }
  return out;
}

result<json> put_image_scanning_configuration(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto name = str(in, "repositoryName");
  auto current = ctx.repos.get(name);
  if (!current) return current.take_error();
  auto c = current->config;
  c.scan_on_push = in["imageScanningConfiguration"].value("scanOnPush", false);
  auto updated = ctx.repos.update(name, c);
  if (!updated) return updated.take_error();
  return json{{"registryId", ctx.settings.account_id},
              {"repositoryName", name},
              {"imageScanningConfiguration", {{"scanOnPush", updated->config.scan_on_push}}}};
}

result<json> tag_resource(call_context& ctx, const json& in) {
  auto name = repository_from_arn(ctx, str(in, "resourceArn"));
  if (!name) return name.take_error();
  auto tags = read_tags(in, "tags");
  if (!tags) return tags.take_error();
  if (auto r = ctx.repos.tag(*name, *tags); !r) return r.take_error();
  return json::object();
}

result<json> untag_resource(call_context& ctx, const json& in) {
  auto name = repository_from_arn(ctx, str(in, "resourceArn"));
  if (!name) return name.take_error();
  std::vector<std::string> keys;
  for (const auto& k : in["tagKeys"]) keys.push_back(k.get<std::string>());
  if (auto r = ctx.repos.untag(*name, keys); !r) return r.take_error();
  return json::object();
}

result<json> list_tags_for_resource(call_context& ctx, const json& in) {
  auto name = repository_from_arn(ctx, str(in, "resourceArn"));
  if (!name) return name.take_error();
  auto tags = ctx.repos.tags(*name);
  if (!tags) return tags.take_error();
  json out = json::array();
  for (const auto& [k, v] : *tags) out.push_back({{"Key", k}, {"Value", v}});
  return json{{"tags", out}};
}

}  // namespace

void add_repository_operations(std::map<std::string, operation>& t) {
  t["CreateRepository"] = create_repository;
  t["DescribeRepositories"] = describe_repositories;
  t["DeleteRepository"] = delete_repository;
  t["PutImageTagMutability"] = put_image_tag_mutability;
  t["PutImageScanningConfiguration"] = put_image_scanning_configuration;
  t["TagResource"] = tag_resource;
  t["UntagResource"] = untag_resource;
  t["ListTagsForResource"] = list_tags_for_resource;
}

}  // namespace berth::ecr
