// Lifecycle policies: stored and validated as ECR validates them, previewed and applied with the one
// evaluator (lifecycle/lifecycle_policy.hpp); expiry removes images exactly as BatchDeleteImage
// would (with their referrers), transitions move them to the archive class.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "berth/lifecycle/lifecycle_policy.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct planned_action {
  lifecycle::decision what;
  std::vector<std::string> tags;
  std::int64_t pushed_at = 0;
  bool archived = false;  // storage class before the action
};

struct lifecycle_run_report {
  std::string repository;
  std::vector<planned_action> actions;
  std::size_t applied = 0;
  std::size_t skipped = 0;  // e.g. an image an index still lists
};

struct lifecycle_policy_info {
  std::string text;
  std::int64_t last_evaluated_at = 0;  // 0: never
};

struct lifecycle_preview {
  std::string text;
  std::string status;                   // IN_PROGRESS | COMPLETE | FAILED
  std::vector<planned_action> results;  // oldest image first
};

class lifecycle_service {
 public:
  lifecycle_service(registry& reg, registry_backends backends) : reg_(reg), backends_(backends) {}

  // invalid_parameter with ECR's wording for a bad document; RepositoryNotFound.
  result<void> put_policy(const std::string& repo, const std::string& text);
  // errc::lifecycle_policy_not_found.
  result<lifecycle_policy_info> policy(const std::string& repo);
  result<lifecycle_policy_info> delete_policy(const std::string& repo);
  // Evaluates `text` (or, empty, the stored policy) now; the preview is complete when this returns.
  // errc::lifecycle_preview_in_progress while another runs.
  result<lifecycle_preview> start_preview(const std::string& repo, const std::string& text);
  // errc::lifecycle_preview_not_found.
  result<lifecycle_preview> preview(const std::string& repo);

  result<std::vector<planned_action>> plan(const std::string& repo, const lifecycle::policy& p);
  // Runs the stored policy of `repo` (RepositoryNotFound / no policy are errors) and records
  // lastEvaluatedAt unless `dry_run`. `interrupted` (shutdown) is asked before each action: a run
  // stops between images, records no evaluation, and the next run plans afresh.
  result<lifecycle_run_report> run(const std::string& repo, bool dry_run,
                                   const std::function<bool()>& interrupted = {});
  // Every repository with a policy; failures are logged and skipped.
  std::vector<lifecycle_run_report> run_all(bool dry_run, const std::function<bool()>& interrupted = {});

 private:
  std::string where(const std::string& repo) const;
  registry& reg_;
  registry_backends backends_;
};

}  // namespace berth
