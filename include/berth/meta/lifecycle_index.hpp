// Metadata role: lifecycle policies and their previews.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class lifecycle_index {
 public:
  virtual ~lifecycle_index() = default;

  // All of these: errc::name_unknown for a repository that does not exist.
  virtual result<void> put_policy(const std::string& repo, const std::string& text) = 0;
  virtual result<std::optional<lifecycle_policy_row>> policy(const std::string& repo) = 0;
  virtual result<std::optional<lifecycle_policy_row>> delete_policy(const std::string& repo) = 0;
  virtual result<void> mark_evaluated(const std::string& repo, std::int64_t when) = 0;
  virtual result<std::vector<std::string>> repositories_with_policy() = 0;
  // errc::limit_exceeded while a preview is IN_PROGRESS (one started after `stale_before`).
  virtual result<void> start_preview(const std::string& repo, const std::string& text, std::int64_t now,
                                     std::int64_t stale_before) = 0;
  virtual result<void> finish_preview(const std::string& repo, const std::string& status,
                                      const std::string& results) = 0;
  virtual result<std::optional<lifecycle_preview_row>> preview(const std::string& repo) = 0;
};

}  // namespace berth::meta
