// Metadata role: upload sessions, with their running hash, so that any process can continue any
// upload without re-reading its bytes, and one writer at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class upload_index {
 public:
  virtual ~upload_index() = default;

  // errc::name_unknown; errc::too_many_requests when the repository already has `max_sessions`.
  // `store_epoch`: the blob store's epoch, so an empty new session counts as checkpointed.
  virtual result<void> create(const std::string& id, const std::string& repo, std::int64_t now,
                              std::int64_t max_sessions, const std::string& store_epoch) = 0;
  virtual result<std::optional<upload_row>> find(const std::string& id) = 0;
  // Takes the session for `writer` until `until` (or renews its claim) and returns it:
  // blob_upload_unknown when there is no session, busy while another writer's claim is live.
  virtual result<upload_row> claim(const std::string& id, const std::string& writer, std::int64_t now,
                                   std::int64_t until) = 0;
  virtual void release(const std::string& id, const std::string& writer) = 0;
  // Extends a claim `writer` still holds; false (and nothing changed) once it was released or
  // taken over. Renewal never takes a claim: a renewer racing a release would resurrect it.
  virtual result<bool> renew(const std::string& id, const std::string& writer, std::int64_t until) = 0;
  // Frees every claim of a writer whose name starts with `writer_prefix`: those of a server that
  // died, when its successor (the same name) starts.
  virtual result<void> release_claims_of(const std::string& writer_prefix) = 0;
  // Announces that the session is about to write its bytes to `digest`'s address: garbage
  // collection does not begin removing that digest while the announcement lasts (until `until`,
  // or the session ends). errc::busy while a removal of the digest is under way (it may be
  // about to move the very object the commit would write); blob_upload_unknown.
  virtual result<void> reserve_commit(const std::string& id, const std::string& digest, std::int64_t until) = 0;
  // Records what a request added (size and hash state, for a layer part its size): blob_upload_unknown,
  // or busy when another writer holds the session.
  virtual result<void> checkpoint(const upload_checkpoint& c) = 0;
  virtual result<void> remove(const std::string& id) = 0;
  // Sessions not checkpointed since `before` and not claimed at `now`.
  virtual result<std::vector<upload_row>> idle_since(std::int64_t before, std::int64_t now) = 0;
  virtual result<std::vector<std::string>> ids() = 0;
};

}  // namespace berth::meta
