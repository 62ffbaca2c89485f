// Metadata role: the event outbox. The change an event announces writes it in its own transaction
// (manifest_write::events, the deletion_events of a delete), so a change that committed is
// announced even if the server dies a moment later, and one that did not is never announced.
// Workers on any server claim the oldest event of a (webhook, repository) for a while, post it, and
// remove it, or set it back for a later attempt: events of one repository reach a webhook in the
// order they were written, each at least once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

struct event_row {
  std::int64_t id = 0;  // the outbox's order
  outbox_event event;
  std::int64_t created_at = 0;
  std::int64_t attempts = 0;
};

class event_index {
 public:
  virtual ~event_index() = default;

  // Events that are not part of another change (a scan's result), written on their own.
  virtual result<void> add(const std::vector<outbox_event>& events, std::int64_t now) = 0;
  // The oldest event due (next_at <= now) that nobody holds and that is the first of its webhook
  // and repository, held by `holder` until `until`.
  virtual result<std::optional<event_row>> claim_next(const std::string& holder, std::int64_t now,
                                                      std::int64_t until) = 0;
  // Delivered (or given up on).
  virtual result<void> remove(std::int64_t id) = 0;
  // Released for another attempt at `next_at`, attempts + 1, the error kept for operators.
  virtual result<void> retry(std::int64_t id, std::int64_t next_at, const std::string& error) = 0;
  // At start-up: what a predecessor under the same name held when it died is due again now.
  virtual result<void> release(const std::string& holder) = 0;
};

}  // namespace berth::meta
