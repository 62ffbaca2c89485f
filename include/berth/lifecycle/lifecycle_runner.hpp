// Applies lifecycle policies to repositories: plans with the shared evaluator, then expires images
// exactly as BatchDeleteImage would (with their referrers) or moves them to the archive class.
#pragma once

#include <string>
#include <vector>

#include "berth/lifecycle/lifecycle_policy.hpp"
#include "berth/registry/registry.hpp"

namespace berth::lifecycle {

struct planned_action {
  decision what;
  std::vector<std::string> tags;
  std::int64_t pushed_at = 0;
  bool archived = false;  // storage class before the action
};

struct run_report {
  std::string repository;
  std::vector<planned_action> actions;
  std::size_t applied = 0;
  std::size_t skipped = 0;  // e.g. an image an index still lists
};

class lifecycle_runner {
 public:
  explicit lifecycle_runner(registry& reg) : reg_(reg) {}

  result<std::vector<planned_action>> plan(const std::string& repo, const policy& p);
  // Runs the stored policy of `repo` (RepositoryNotFound / no policy are errors) and records
  // lastEvaluatedAt unless `dry_run`.
  result<run_report> run(const std::string& repo, bool dry_run);
  // Every repository with a policy; failures are logged and skipped.
  std::vector<run_report> run_all(bool dry_run);

 private:
  registry& reg_;
};

}  // namespace berth::lifecycle
