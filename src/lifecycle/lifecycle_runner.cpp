#include "berth/lifecycle/lifecycle_runner.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace berth::lifecycle {

result<std::vector<planned_action>> lifecycle_runner::plan(const std::string& repo, const policy& p) {
  auto rows = reg_.meta().images(repo);
  if (!rows) {
    if (rows.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
    return rows.take_error();
  }
  std::vector<image> images;
  std::map<std::string, const meta::image_row*> by_digest;
  for (const auto& r : *rows) {
    images.push_back(image{r.digest, r.tags, r.pushed_at, r.last_pulled_at, r.last_archived_at, r.archived});
    by_digest[r.digest] = &r;
  }
  std::vector<planned_action> out;
  for (auto& d : evaluate(p, images, reg_.time_source().now_seconds())) {
    const auto* row = by_digest[d.digest];
    out.push_back(planned_action{d, row->tags, row->pushed_at, row->archived});
  }
  return out;
}

result<run_report> lifecycle_runner::run(const std::string& repo, bool dry_run) {
  auto stored = reg_.meta().lifecycle_policy(repo);
  if (!stored) {
    if (stored.error_value().code == errc::name_unknown) return reg_.repositories().repository_not_found(repo);
    return stored.take_error();
  }
  if (!*stored) return make_error(errc::invalid_parameter, "no lifecycle policy for repository " + repo);
  auto p = parse_policy((*stored)->text);
  if (!p) return p.take_error();
  auto actions = plan(repo, *p);
  if (!actions) return actions.take_error();
  run_report report{repo, std::move(actions).value(), 0, 0};
  for (const auto& a : report.actions) {
    std::string tags;
    for (const auto& t : a.tags) tags += (tags.empty() ? "" : ",") + t;
    if (dry_run) {
      spdlog::info("lifecycle (dry run) {}: would {} {} [{}] by rule {}", repo, a.what.action, a.what.digest, tags,
                   a.what.rule_priority);
      continue;
    }
    result<void> done;
    if (a.what.action == "EXPIRE") {
      auto r = reg_.expire_image(repo, a.what.digest);
      if (!r) done = r.take_error();
    } else {
      done = reg_.set_storage_class(repo, a.what.digest, true);
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
  if (!dry_run) (void)reg_.meta().mark_lifecycle_evaluated(repo, reg_.time_source().now_seconds());
  return report;
}

std::vector<run_report> lifecycle_runner::run_all(bool dry_run) {
  std::vector<run_report> out;
  auto repos = reg_.meta().repositories_with_lifecycle_policy();
  if (!repos) {
    spdlog::error("lifecycle: listing policies failed: {}", repos.error_value().message);
    return out;
  }
  for (const auto& repo : *repos) {
    auto r = run(repo, dry_run);
    if (r) {
      out.push_back(std::move(r).value());
    } else {
      spdlog::error("lifecycle {}: {}", repo, r.error_value().message);
    }
  }
  return out;
}

}  // namespace berth::lifecycle
