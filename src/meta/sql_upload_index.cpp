// Upload sessions in SQL: the row holds the checkpointed size and running hash. Claims (one writer
// at a time): in the row where servers share the database, in this process where it is the only
// one (see sql_roles.hpp).
#include "sql_roles.hpp"

namespace berth::meta {

using namespace sql_rows;

namespace {

#define BERTH_UPLOAD_COLUMNS                                                        \
  "u.id, r.name, u.started_at, u.updated_at, u.size, u.hash_state, u.store_epoch, " \
  "u.small_part_followed"

// A claim another live writer holds: the refusal's condition, in SQL.
#define BERTH_CLAIMED_BY_OTHER "(claimed_by <> '' AND claimed_by <> ? AND claimed_until > ?)"

constexpr auto read_upload = [](const auto& s) -> upload_row {
  upload_row u;
  u.id = s.text(0);
  u.repository = s.text(1);
  u.started_at = s.int64(2);
  u.updated_at = s.int64(3);
  u.size = static_cast<std::uint64_t>(s.int64(4));
  u.hash_state = s.blob(5);
  u.store_epoch = s.text(6);
  u.small_part_followed = s.boolean(7);
  return u;
};

}  // namespace

template <class Pool>
result<void> sql_upload_index<Pool>::create(const std::string& id, const std::string& repo, std::int64_t now,
                                            std::int64_t max_sessions, const std::string& store_epoch) {
  return pool_.write([&](auto& db) -> result<void> {
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    auto open = db.one("SELECT COUNT(*) FROM uploads WHERE repository_id = ?", int_column, *rid);
    if (!open) return open.take_error();
    if (open->value_or(0) >= max_sessions) return make_error(errc::too_many_requests, repo);
    auto r = db.run("INSERT INTO uploads(id, repository_id, started_at, updated_at, store_epoch) VALUES(?, ?, ?, ?, ?)",
                    id, *rid, now, now, store_epoch);
    if (!r) return r.take_error();
    return {};
  });
}

template <class Pool>
result<std::optional<upload_row>> sql_upload_index<Pool>::find(const std::string& id) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT " BERTH_UPLOAD_COLUMNS
                  " FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.id = ?",
                  read_upload, id);
  });
}

template <class Pool>
bool sql_upload_index<Pool>::claimed_by_other(const std::string& id, const std::string& writer, std::int64_t now) {
  auto it = claims_.find(id);
  return it != claims_.end() && it->second.writer != writer && it->second.until > now;
}

template <class Pool>
result<void> sql_upload_index<Pool>::explain_refused_claim(const std::string& id) {
  auto row = find(id);
  if (!row) return row.take_error();
  if (!*row) return make_error(errc::blob_upload_unknown, id);
  return make_error(errc::busy, id);
}

template <class Pool>
result<upload_row> sql_upload_index<Pool>::claim(const std::string& id, const std::string& writer, std::int64_t now,
                                                 std::int64_t until) {
  if constexpr (Pool::shared_between_servers) {
    auto row = pool_.write([&](auto& db) -> result<std::optional<upload_row>> {
      auto n =
          db.run("UPDATE uploads SET claimed_by = ?, claimed_until = ? WHERE id = ? AND NOT " BERTH_CLAIMED_BY_OTHER,
                 writer, until, id, writer, now);
      if (!n) return n.take_error();
      if (*n == 0) return std::optional<upload_row>();
      return db.one("SELECT " BERTH_UPLOAD_COLUMNS
                    " FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.id = ?",
                    read_upload, id);
    });
    if (!row) return row.take_error();
    if (!*row) {
      auto why = explain_refused_claim(id);
      if (!why) return why.take_error();
      return make_error(errc::internal, "upload claim refused without a reason");
    }
    return std::move(**row);
  } else {
    auto row = find(id);
    if (!row) return row.take_error();
    if (!*row) return make_error(errc::blob_upload_unknown, id);
    std::lock_guard lock(claims_mutex_);
    if (claimed_by_other(id, writer, now)) return make_error(errc::busy, id);
    claims_[id] = claim_state{writer, until};
    return std::move(**row);
  }
}

template <class Pool>
void sql_upload_index<Pool>::release(const std::string& id, const std::string& writer) {
  if constexpr (Pool::shared_between_servers) {
    // Best effort: an unreleased claim expires by itself.
    (void)pool_.write([&](auto& db) -> result<void> {
      auto n =
          db.run("UPDATE uploads SET claimed_by = '', claimed_until = 0 WHERE id = ? AND claimed_by = ?", id, writer);
      if (!n) return n.take_error();
      return {};
    });
  } else {
    std::lock_guard lock(claims_mutex_);
    auto it = claims_.find(id);
    if (it != claims_.end() && it->second.writer == writer) claims_.erase(it);
  }
}

template <class Pool>
result<bool> sql_upload_index<Pool>::renew(const std::string& id, const std::string& writer, std::int64_t until) {
  if constexpr (Pool::shared_between_servers) {
    return pool_.write([&](auto& db) -> result<bool> {
      auto n = db.run("UPDATE uploads SET claimed_until = ? WHERE id = ? AND claimed_by = ?", until, id, writer);
      if (!n) return n.take_error();
      return *n > 0;
    });
  } else {
    std::lock_guard lock(claims_mutex_);
    auto it = claims_.find(id);
    if (it == claims_.end() || it->second.writer != writer) return false;
    it->second.until = until;
    return true;
  }
}

template <class Pool>
result<void> sql_upload_index<Pool>::reserve_commit(const std::string& id, const std::string& digest,
                                                    std::int64_t until) {
  // One transaction reads the blob's mark and writes the announcement; begin_delete reads the
  // announcements and writes the mark. Serialised (SQLite's one writer, PostgreSQL's SERIALIZABLE),
  // one of them sees the other.
  return pool_.write([&](auto& db) -> result<void> {
    if (auto free = require_not_being_removed(db, digest); !free) return free;
    auto n = db.run("UPDATE uploads SET committing_digest = ?, committing_until = ? WHERE id = ?", digest, until, id);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::blob_upload_unknown, id);
    return {};
  });
}

template <class Pool>
result<void> sql_upload_index<Pool>::release_claims_of(const std::string& writer_prefix) {
  if constexpr (Pool::shared_between_servers) {
    return pool_.write([&](auto& db) -> result<void> {
      auto n = db.run(
          "UPDATE uploads SET claimed_by = '', claimed_until = 0 WHERE claimed_by <> '' AND "
          "substr(claimed_by, 1, ?) = ?",
          writer_prefix.size(), writer_prefix);
      if (!n) return n.take_error();
      return {};
    });
  } else {
    std::lock_guard lock(claims_mutex_);
    std::erase_if(claims_, [&](const auto& c) { return c.second.writer.starts_with(writer_prefix); });
    return {};
  }
}

template <class Pool>
result<void> sql_upload_index<Pool>::checkpoint(const upload_checkpoint& c) {
  if constexpr (!Pool::shared_between_servers) {
    std::lock_guard lock(claims_mutex_);
    if (claimed_by_other(c.id, c.writer, c.now)) return make_error(errc::busy, c.id);
  }
  // Where claims are rows, the same condition is part of the UPDATE (it never matches in SQLite,
  // whose rows carry no claims).
  auto changed = pool_.write([&](auto& db) -> result<int> {
    return c.part_size
               ? db.run(
                     "UPDATE uploads SET size = ?, hash_state = ?, store_epoch = ?, updated_at = ?, "
                     "small_part_followed = CASE WHEN last_part_size >= 0 AND last_part_size < ? THEN 1 "
                     "ELSE small_part_followed END, "
                     "last_part_size = ? WHERE id = ? AND NOT " BERTH_CLAIMED_BY_OTHER,
                     c.size, as_blob(c.hash_state), c.store_epoch, c.now, c.min_part_size, *c.part_size, c.id, c.writer,
                     c.now)
               : db.run(
                     "UPDATE uploads SET size = ?, hash_state = ?, store_epoch = ?, updated_at = ? WHERE id = ? "
                     "AND NOT " BERTH_CLAIMED_BY_OTHER,
                     c.size, as_blob(c.hash_state), c.store_epoch, c.now, c.id, c.writer, c.now);
  });
  if (!changed) return changed.take_error();
  if (*changed == 0) return explain_refused_claim(c.id);
  return {};
}

template <class Pool>
result<void> sql_upload_index<Pool>::remove(const std::string& id) {
  auto r = pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("DELETE FROM uploads WHERE id = ?", id);
    if (!n) return n.take_error();
    return {};
  });
  if constexpr (!Pool::shared_between_servers) {
    if (r) {
      std::lock_guard lock(claims_mutex_);
      claims_.erase(id);
    }
  }
  return r;
}

template <class Pool>
result<std::vector<upload_row>> sql_upload_index<Pool>::idle_since(std::int64_t before, std::int64_t now) {
  auto rows = pool_.read([&](auto& db) {
    return db.all("SELECT " BERTH_UPLOAD_COLUMNS
                  " FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.updated_at < ? "
                  "AND u.claimed_until <= ?",
                  read_upload, before, now);
  });
  if (!rows) return rows;
  if constexpr (!Pool::shared_between_servers) {
    std::lock_guard lock(claims_mutex_);
    std::erase_if(*rows, [&](const upload_row& u) {
      auto it = claims_.find(u.id);
      return it != claims_.end() && it->second.until > now;
    });
  }
  return rows;
}

template <class Pool>
result<std::vector<std::string>> sql_upload_index<Pool>::ids() {
  return pool_.read([&](auto& db) { return db.all("SELECT id FROM uploads", text_column); });
}

template class sql_upload_index<connection_pool>;
template class sql_upload_index<pg_pool>;

}  // namespace berth::meta
