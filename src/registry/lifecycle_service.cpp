#include "berth/registry/lifecycle_service.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <map>

#include "berth/meta/metadata_store.hpp"

namespace berth {
namespace {

using json = nlohmann::json;

// A preview left IN_PROGRESS this long (a crash mid-preview) no longer blocks a new one.
constexpr std::int64_t stale_preview_seconds = 600;

// Previews are stored as ECR's previewResults entries.
json to_json(const planned_action& a) {
  json action = {{"type", a.what.action}};
  if (!a.what.target_storage_class.empty()) action["targetStorageClass"] = a.what.target_storage_class;
  return json{{"imageTags", a.tags},
              {"imageDigest", a.what.digest},
              {"imagePushedAt", a.pushed_at},
              {"action", action},
              {"appliedRulePriority", a.what.rule_priority},
              {"storageClass", a.archived ? "ARCHIVE" : "STANDARD"}};
}

std::vector<planned_action> from_json(const std::string& text) {
  std::vector<planned_action> out;
  auto all = json::parse(text, nullptr, false);
  if (!all.is_array()) return out;
  for (const auto& r : all) {
    if (!r.is_object()) continue;
    planned_action a;
    a.what.digest = r.value("imageDigest", std::string());
    a.what.rule_priority = r.value("appliedRulePriority", std::int64_t{0});
    if (auto act = r.find("action"); act != r.end() && act->is_object()) {
      a.what.action = act->value("type", std::string());
      a.what.target_storage_class = act->value("targetStorageClass", std::string());
    }
    if (auto t = r.find("imageTags"); t != r.end() && t->is_array()) {
      for (const auto& x : *t) {
        if (x.is_string()) a.tags.push_back(x.get<std::string>());
      }
    }
    a.pushed_at = r.value("imagePushedAt", std::int64_t{0});
    a.archived = r.value("storageClass", std::string()) == "ARCHIVE";
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::string lifecycle_service::where(const std::string& repo) const {
  return "the repository with name '" + repo + "' in the registry with id '" + reg_.registry_id() + "'";
}

result<void> lifecycle_service::put_policy(const std::string& repo, const std::string& text) {
  if (auto r = reg_.repositories().get(repo); !r) return r.take_error();
  if (auto p = lifecycle::parse_policy(text); !p) return p.take_error();
  auto r = backends_.meta.lifecycle().put_policy(repo, text);
  if (!r && r.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
  return r;
}

result<lifecycle_policy_info> lifecycle_service::policy(const std::string& repo) {
  auto row = backends_.meta.lifecycle().policy(repo);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) return make_error(errc::lifecycle_policy_not_found, "Lifecycle policy does not exist for " + where(repo));
  return lifecycle_policy_info{(*row)->text, (*row)->last_evaluated_at};
}

result<lifecycle_policy_info> lifecycle_service::delete_policy(const std::string& repo) {
  auto row = backends_.meta.lifecycle().delete_policy(repo);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) return make_error(errc::lifecycle_policy_not_found, "Lifecycle policy does not exist for " + where(repo));
  return lifecycle_policy_info{(*row)->text, (*row)->last_evaluated_at};
}

result<lifecycle_preview> lifecycle_service::start_preview(const std::string& repo, const std::string& given) {
  if (auto r = reg_.repositories().get(repo); !r) return r.take_error();
  std::string text = given;
  if (text.empty()) {
    auto stored = policy(repo);
    if (!stored) return stored.take_error();
    text = stored->text;
  }
  auto p = lifecycle::parse_policy(text);
  if (!p) return p.take_error();
  const auto now = reg_.time_source().now_seconds();
  auto& index = backends_.meta.lifecycle();
  if (auto r = index.start_preview(repo, text, now, now - stale_preview_seconds); !r) {
    if (r.error_value().code == errc::limit_exceeded) {
      return make_error(errc::lifecycle_preview_in_progress,
                        "Previous lifecycle policy preview request has not completed for " + where(repo));
    }
    return r.take_error();
  }
  // The same evaluator as the real run; computed now, so the preview completes before we answer.
  auto planned = plan(repo, *p);
  json results = json::array();
  if (planned) {
    for (const auto& a : *planned) results.push_back(to_json(a));
  }
  lifecycle_preview out{text, planned ? "COMPLETE" : "FAILED", {}};
  if (auto r = index.finish_preview(repo, out.status, results.dump()); !r) return r.take_error();
  if (planned) out.results = std::move(planned).value();
  return out;
}

result<lifecycle_preview> lifecycle_service::preview(const std::string& repo) {
  auto row = backends_.meta.lifecycle().preview(repo);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) {
    return make_error(errc::lifecycle_preview_not_found, "Lifecycle policy preview does not exist for " + where(repo));
  }
  return lifecycle_preview{(*row)->text, (*row)->status, from_json((*row)->results)};
}

result<std::vector<planned_action>> lifecycle_service::plan(const std::string& repo, const lifecycle::policy& p) {
  auto all = reg_.all_images(repo);
  if (!all) return all.take_error();
  std::vector<lifecycle::image> images;
  std::map<std::string, const image_info*> by_digest;
  for (const auto& r : *all) {
    images.push_back(lifecycle::image{r.digest, r.tags, r.pushed_at, r.last_pulled_at, r.last_archived_at, r.archived});
    by_digest[r.digest] = &r;
  }
  std::vector<planned_action> out;
  for (auto& d : lifecycle::evaluate(p, images, reg_.time_source().now_seconds())) {
    const auto* row = by_digest[d.digest];
    out.push_back(planned_action{d, row->tags, row->pushed_at, row->archived});
  }
  return out;
}

result<lifecycle_run_report> lifecycle_service::run(const std::string& repo, bool dry_run,
                                                    const std::function<bool()>& interrupted) {
  auto stored = backends_.meta.lifecycle().policy(repo);
  if (!stored) {
    if (stored.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
    return stored.take_error();
  }
  if (!*stored) return make_error(errc::invalid_parameter, "no lifecycle policy for repository " + repo);
  auto p = lifecycle::parse_policy((*stored)->text);
  if (!p) return p.take_error();
  auto actions = plan(repo, *p);
  if (!actions) return actions.take_error();
  lifecycle_run_report report{repo, std::move(actions).value(), 0, 0};
  for (const auto& a : report.actions) {
    if (interrupted && interrupted()) return report;
    std::string tags;
    for (const auto& t : a.tags) tags += (tags.empty() ? "" : ",") + t;
    if (dry_run) {
      spdlog::info("lifecycle (dry run) {}: would {} {} [{}] by rule {}", repo, a.what.action, a.what.digest, tags,
                   a.what.rule_priority);
      continue;
    }
    result<void> done;
    if (a.what.action == "EXPIRE") {
      if (auto r = reg_.expire_image(repo, a.what.digest); !r) done = r.take_error();
    } else if (auto r = reg_.set_storage_class(repo, a.what.digest, "", true); !r) {
      done = r.take_error();
    }
    if (done) {
      ++report.applied;
      spdlog::info("lifecycle {}: {} {} [{}] by rule {}", repo, a.what.action == "EXPIRE" ? "expired" : "archived",
                   a.what.digest, tags, a.what.rule_priority);
    } else {
      ++report.skipped;
      spdlog::warn("lifecycle {}: kept {} [{}] (rule {}): {}", repo, a.what.digest, tags, a.what.rule_priority,
                   done.error_value().message);
    }
  }
  if (!dry_run) (void)backends_.meta.lifecycle().mark_evaluated(repo, reg_.time_source().now_seconds());
  return report;
}

std::vector<lifecycle_run_report> lifecycle_service::run_all(bool dry_run, const std::function<bool()>& interrupted) {
  std::vector<lifecycle_run_report> out;
  auto repos = backends_.meta.lifecycle().repositories_with_policy();
  if (!repos) {
    spdlog::error("lifecycle: listing policies failed: {}", repos.error_value().message);
    return out;
  }
  for (const auto& repo : *repos) {
    if (interrupted && interrupted()) break;
    auto r = run(repo, dry_run, interrupted);
    if (r) {
      out.push_back(std::move(r).value());
    } else {
      spdlog::error("lifecycle {}: {}", repo, r.error_value().message);
    }
  }
  return out;
}

}  // namespace berth
