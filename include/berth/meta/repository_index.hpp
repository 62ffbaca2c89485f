// Metadata role: repositories, their settings and resource tags.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class repository_index {
 public:
  virtual ~repository_index() = default;

  // errc::repository_already_exists when taken.
  virtual result<void> create(const std::string& name, const repository_settings& settings, const resource_tags& tags,
                              std::int64_t now) = 0;
  virtual result<std::optional<repository_row>> find(const std::string& name) = 0;
  // Sorted bytewise, strictly after `after`, at most `limit`.
  virtual result<std::vector<repository_row>> list(const std::string& after, std::size_t limit) = 0;
  virtual result<std::vector<std::string>> names(const std::string& after, std::size_t limit) = 0;
  // errc::name_unknown when absent.
  virtual result<void> update_settings(const std::string& name, const repository_settings& settings) = 0;
  // Removes the repository with everything in it; errc::repository_not_empty when it holds images
  // and `force` is false; name_unknown when absent.
  virtual result<repository_row> remove(const std::string& name, bool force) = 0;
  virtual result<resource_tags> tags(const std::string& name) = 0;
  // Adds or overwrites; errc::too_many_tags past `max_tags` (nothing changes then).
  virtual result<void> tag(const std::string& name, const resource_tags& tags, std::size_t max_tags) = 0;
  virtual result<void> untag(const std::string& name, const std::vector<std::string>& keys) = 0;
};

}  // namespace berth::meta
