// Put/Get/DeleteLifecyclePolicy, Start/GetLifecyclePolicyPreview, UpdateImageStorageClass.
#include <algorithm>

#include "berth/lifecycle/lifecycle_runner.hpp"
#include "operations.hpp"

namespace berth::ecr {
namespace {

// A preview left IN_PROGRESS this long (a crash mid-preview) no longer blocks a new one.
constexpr std::int64_t stale_preview_seconds = 600;

std::string where(const call_context& ctx, const std::string& repo) {
  return "the repository with name '" + repo + "' in the registry with id '" + ctx.settings.account_id + "'";
}

result<json> put_lifecycle_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto text = str(in, "lifecyclePolicyText");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  if (auto p = lifecycle::parse_policy(text); !p) return p.take_error();
  if (auto r = ctx.reg.meta().put_lifecycle_policy(repo, text); !r) return r.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"lifecyclePolicyText", text}};
}

result<meta::lifecycle_policy_row> stored_policy(call_context& ctx, const std::string& repo) {
  auto row = ctx.reg.meta().lifecycle_policy(repo);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return ctx.repos.repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) return make_error(errc::lifecycle_policy_not_found, "Lifecycle policy does not exist for " + where(ctx, repo));
  return **row;
}

result<json> get_lifecycle_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto row = stored_policy(ctx, repo);
  if (!row) return row.take_error();
  json out = {{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"lifecyclePolicyText", row->text}};
  if (row->last_evaluated_at > 0) out["lastEvaluatedAt"] = row->last_evaluated_at;
  return out;
}

result<json> delete_lifecycle_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto row = ctx.reg.meta().delete_lifecycle_policy(repo);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return ctx.repos.repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) return make_error(errc::lifecycle_policy_not_found, "Lifecycle policy does not exist for " + where(ctx, repo));
  json out = {{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"lifecyclePolicyText", (*row)->text}};
  if ((*row)->last_evaluated_at > 0) out["lastEvaluatedAt"] = (*row)->last_evaluated_at;
  return out;
}

json preview_result(const lifecycle::planned_action& a) {
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
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  auto text = str(in, "lifecyclePolicyText");
  if (text.empty()) {
    auto row = stored_policy(ctx, repo);
    if (!row) return row.take_error();
    text = row->text;
  }
  auto policy = lifecycle::parse_policy(text);
  if (!policy) return policy.take_error();
  auto& meta = ctx.reg.meta();
  if (auto r = meta.start_lifecycle_preview(repo, text, ctx.now, ctx.now - stale_preview_seconds); !r) {
    if (r.error_value().code == errc::limit_exceeded) {
      return make_error(errc::lifecycle_preview_in_progress,
                        "Previous lifecycle policy preview request has not completed for " + where(ctx, repo));
    }
    return r.take_error();
  }
  // The same evaluator as the real run; computed now, so the preview completes before we answer.
  lifecycle::lifecycle_runner runner(ctx.reg);
  auto plan = runner.plan(repo, *policy);
  json results = json::array();
  if (plan) {
    for (const auto& a : *plan) results.push_back(preview_result(a));
  }
  auto status = plan ? "COMPLETE" : "FAILED";
  if (auto r = meta.finish_lifecycle_preview(repo, status, results.dump()); !r) return r.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"lifecyclePolicyText", text},
              {"status", status}};
}

result<json> get_lifecycle_policy_preview(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto row = ctx.reg.meta().lifecycle_preview(repo);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return ctx.repos.repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) {
    return make_error(errc::lifecycle_preview_not_found, "Lifecycle policy preview does not exist for " + where(ctx, repo));
  }
  auto all = json::parse((*row)->results, nullptr, false);
  if (!all.is_array()) all = json::array();
  std::size_t expiring = 0, transitioning = 0;
  for (const auto& r : all) (r["action"]["type"] == "EXPIRE" ? expiring : transitioning)++;

  auto status_filter = in.contains("filter") ? str(in["filter"], "tagStatus", "ANY") : std::string("ANY");
  std::vector<json> wanted;
  for (const auto& r : all) {
    bool tagged = !r["imageTags"].empty();
    if ((status_filter == "TAGGED" && !tagged) || (status_filter == "UNTAGGED" && tagged)) continue;
    if (auto ids = in.find("imageIds"); ids != in.end() && ids->is_array()) {
      bool hit = false;
      for (const auto& id : *ids) {
        auto d = str(id, "imageDigest");
        auto t = str(id, "imageTag");
        const auto& tags = r["imageTags"];
        hit = hit || ((d.empty() || r["imageDigest"] == d) &&
                      (t.empty() || std::find(tags.begin(), tags.end(), t) != tags.end()));
      }
      if (!hit) continue;
    }
    wanted.push_back(r);
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
  for (std::size_t i = start; i < wanted.size() && page.size() < limit; ++i) page.push_back(wanted[i]);
  const std::size_t next = start + page.size();
  const bool more = next < wanted.size();
  const std::string last = std::to_string(next);
  json summary = {{"expiringImageTotalCount", expiring}};
  if (transitioning > 0) {
    summary["transitioningImageTotalCounts"] =
        json::array({{{"targetStorageClass", "ARCHIVE"}, {"imageTotalCount", transitioning}}});
  }
  json out = {{"registryId", ctx.settings.account_id}, {"repositoryName", repo},
              {"lifecyclePolicyText", (*row)->text}, {"status", (*row)->status},
              {"previewResults", page}, {"summary", summary}};
  if (more) out["nextToken"] = next_token(last);
  return out;
}

result<json> update_image_storage_class(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  const auto& id = in["imageId"];
  auto digest = str(id, "imageDigest");
  auto tag = str(id, "imageTag");
  if (digest.empty()) {
    auto m = ctx.reg.meta().manifest_by_tag(repo, tag);
    if (!m) return m.take_error();
    if (!*m) return make_error(errc::image_not_found, "Requested image not found");
    digest = (*m)->digest;
  }
  bool archive = str(in, "targetStorageClass") == "ARCHIVE";
  if (auto r = ctx.reg.set_storage_class(repo, digest, archive); !r) return r.take_error();
  json image_id = {{"imageDigest", digest}};
  if (!tag.empty()) image_id["imageTag"] = tag;
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"imageId", image_id},
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
