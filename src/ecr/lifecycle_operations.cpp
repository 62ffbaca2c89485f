// Put/Get/DeleteLifecyclePolicy, Start/GetLifecyclePolicyPreview, UpdateImageStorageClass.
#include <algorithm>

#include "operations.hpp"

namespace berth::ecr {
namespace {

json policy_json(const call_context& ctx, const std::string& repo, const lifecycle_policy_info& p) {
  json out = {{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"lifecyclePolicyText", p.text}};
  // Always present, as in ECR's responses: 0 (1970-01-01T00:00:00Z) until the first evaluation.
  out["lastEvaluatedAt"] = p.last_evaluated_at;
  return out;
}

result<json> put_lifecycle_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto text = str(in, "lifecyclePolicyText");
  if (auto r = ctx.lifecycle.put_policy(repo, text); !r) return r.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"lifecyclePolicyText", text}};
}

result<json> get_lifecycle_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto p = ctx.lifecycle.policy(repo);
  if (!p) return p.take_error();
  return policy_json(ctx, repo, *p);
}

result<json> delete_lifecycle_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto p = ctx.lifecycle.delete_policy(repo);
  if (!p) return p.take_error();
  return policy_json(ctx, repo, *p);
}

json preview_result(const planned_action& a) {
  json action = {{"type", a.what.action}};
  if (!a.what.target_storage_class.empty()) action["targetStorageClass"] = a.what.target_storage_class;
  return json{{"imageTags", a.tags},
              {"imageDigest", a.what.digest},
              {"imagePushedAt", a.pushed_at},
              {"action", action},
              {"appliedRulePriority", a.what.rule_priority},
              {"storageClass", a.archived ? "ARCHIVE" : "STANDARD"}};
}

result<json> start_lifecycle_policy_preview(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto preview = ctx.lifecycle.start_preview(repo, str(in, "lifecyclePolicyText"));
  if (!preview) return preview.take_error();
  return json{{"registryId", ctx.settings.account_id},
              {"repositoryName", repo},
              {"lifecyclePolicyText", preview->text},
              {"status", preview->status}};
}

bool wanted(const json& in, const planned_action& a) {
  bool tagged = !a.tags.empty();
  auto status_filter = in.contains("filter") ? str(in["filter"], "tagStatus", "ANY") : std::string("ANY");
  if ((status_filter == "TAGGED" && !tagged) || (status_filter == "UNTAGGED" && tagged)) return false;
  auto ids = in.find("imageIds");
  if (ids == in.end() || !ids->is_array()) return true;
  for (const auto& id : *ids) {
    auto d = str(id, "imageDigest");
    auto t = str(id, "imageTag");
    if ((d.empty() || a.what.digest == d) &&
        (t.empty() || std::find(a.tags.begin(), a.tags.end(), t) != a.tags.end())) {
      return true;
    }
  }
  return false;
}

result<json> get_lifecycle_policy_preview(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto preview = ctx.lifecycle.preview(repo);
  if (!preview) return preview.take_error();
  std::size_t expiring = 0, transitioning = 0;
  for (const auto& a : preview->results) (a.what.action == "EXPIRE" ? expiring : transitioning)++;
  std::vector<const planned_action*> selected;
  for (const auto& a : preview->results) {
    if (wanted(in, a)) selected.push_back(&a);
  }
  // Results keep their order (oldest image first); the token is the position of the next page.
  auto after = read_next_token(in);
  if (!after) return after.take_error();
  std::size_t start = 0;
  if (!after->empty()) {
    try {
      start = std::stoul(*after);
    } catch (...) {
      return invalid_parameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
    }
  }
  auto limit = page_size(in, 100);
  json page = json::array();
  for (std::size_t i = start; i < selected.size() && page.size() < limit; ++i)
    page.push_back(preview_result(*selected[i]));
  const std::size_t next = start + page.size();
  json summary = {{"expiringImageTotalCount", expiring}};
  if (transitioning > 0) {
    summary["transitioningImageTotalCounts"] =
        json::array({{{"targetStorageClass", "ARCHIVE"}, {"imageTotalCount", transitioning}}});
  }
  json out = {{"registryId", ctx.settings.account_id},
              {"repositoryName", repo},
              {"lifecyclePolicyText", preview->text},
              {"status", preview->status},
              {"previewResults", page},
              {"summary", summary}};
  if (next < selected.size()) out["nextToken"] = next_token(std::to_string(next));
  return out;
}

result<json> update_image_storage_class(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  const auto& id = in["imageId"];
  auto tag = str(id, "imageTag");
  bool archive = str(in, "targetStorageClass") == "ARCHIVE";
  auto digest = ctx.reg.set_storage_class(repo, str(id, "imageDigest"), tag, archive);
  if (!digest) return digest.take_error();
  json image_id = {{"imageDigest", *digest}};
  if (!tag.empty()) image_id["imageTag"] = tag;
  return json{{"registryId", ctx.settings.account_id},
              {"repositoryName", repo},
              {"imageId", image_id},
              {"imageStatus", archive ? "ARCHIVED" : "ACTIVE"}};
}

}  // namespace

void add_lifecycle_operations(std::map<std::string, operation>& t) {
  t["PutLifecyclePolicy"] = put_lifecycle_policy;
  t["GetLifecyclePolicy"] = get_lifecycle_policy;
  t["DeleteLifecyclePolicy"] = delete_lifecycle_policy;
  t["StartLifecyclePolicyPreview"] = start_lifecycle_policy_preview;
  t["GetLifecyclePolicyPreview"] = get_lifecycle_policy_preview;
  t["UpdateImageStorageClass"] = update_image_storage_class;
}

}  // namespace berth::ecr
