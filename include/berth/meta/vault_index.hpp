// Metadata role: the secrets users keep in Berth through the Secrets Manager API (upstream
// credentials of pull-through cache rules), each with its versions and their staging labels.
// Values are sealed by the domain before they reach this role: the database never holds them in
// the clear. Every write names the secret's revision it read, so two writers racing on one secret
// cannot both move its labels (the loser gets errc::busy and reads again).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::meta {

struct vault_secret_row {
  std::string name;
  std::string arn;  // …:secret:<name>-<6 random characters>
  std::string description;
  std::string kms_key_id;
  std::string tags = "[]";  // JSON: [{"Key":…,"Value":…}] as given
  std::int64_t created_at = 0;
  std::int64_t changed_at = 0;
  std::int64_t accessed_at = 0;    // a day's start (Secrets Manager keeps the date only)
  std::int64_t deletion_date = 0;  // when a scheduled deletion takes effect; 0 when none
  std::int64_t revision = 0;
};

struct vault_version_row {
  std::string version_id;
  std::string sealed_value;
  std::string stages = "[]";  // JSON array of staging labels
  std::int64_t created_at = 0;
};

// What one write does to a secret's versions, all at once.
struct vault_version_change {
  std::optional<vault_version_row> added;
  std::vector<std::pair<std::string, std::string>> relabelled;  // version id → its labels (JSON)
  std::vector<std::string> removed;                             // version ids
};

class vault_index {
 public:
  virtual ~vault_index() = default;

  // errc::secret_already_exists when the name is taken (also by a secret scheduled for deletion).
  virtual result<void> create(const vault_secret_row& secret, const std::optional<vault_version_row>& first) = 0;
  virtual result<std::optional<vault_secret_row>> find(const std::string& name) = 0;
  virtual result<std::vector<vault_version_row>> versions(const std::string& name) = 0;
  // errc::busy when the secret's revision is no longer `revision`; errc::secret_not_found when gone.
  virtual result<void> change_versions(const std::string& name, std::int64_t revision,
                                       const vault_version_change& change, std::int64_t now) = 0;
  // Sets (or, with 0, clears) the deletion date; errc::busy / secret_not_found as above.
  virtual result<void> schedule_deletion(const std::string& name, std::int64_t revision, std::int64_t when) = 0;
  // The secret and its versions; false when there was none.
  virtual result<bool> remove(const std::string& name) = 0;
  virtual result<void> mark_accessed(const std::string& name, std::int64_t day) = 0;
  // By name, strictly after `after`.
  virtual result<std::vector<vault_secret_row>> list(const std::string& after, std::size_t limit) = 0;
};

}  // namespace berth::meta
