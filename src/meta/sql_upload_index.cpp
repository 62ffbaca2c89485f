// Upload sessions on SQLite: the row holds the checkpointed size and running hash; claims (one
// writer at a time) are kept in this process, see sqlite_roles.hpp.
#include "sqlite_roles.hpp"

namespace berth::meta {

using namespace sqlite_rows;

namespace {

#define BERTH_UPLOAD_COLUMNS                                                                       \
  "u.id, r.name, u.started_at, u.updated_at, u.size, COALESCE(u.hash_state, x''), u.store_epoch, " \
  "u.small_part_followed"

upload_row read_upload(const statement& s) {
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
}

}  // namespace

result<void> sqlite_upload_index::create(const std::string& id, const std::string& repo, std::int64_t now,
                                         std::int64_t max_sessions, const std::string& store_epoch) {
  return pool_.write([&](sqlite_connection& db) -> result<void> {
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

result<std::optional<upload_row>> sqlite_upload_index::find(const std::string& id) {
  return pool_.read([&](sqlite_connection& db) {
    return db.one("SELECT " BERTH_UPLOAD_COLUMNS
                  " FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.id = ?",
                  read_upload, id);
  });
}

bool sqlite_upload_index::claimed_by_other(const std::string& id, const std::string& writer, std::int64_t now) {
  auto it = claims_.find(id);
  return it != claims_.end() && it->second.writer != writer && it->second.until > now;
}

result<upload_row> sqlite_upload_index::claim(const std::string& id, const std::string& writer, std::int64_t now,
                                              std::int64_t until) {
  auto row = find(id);
  if (!row) return row.take_error();
  if (!*row) return make_error(errc::blob_upload_unknown, id);
  std::lock_guard lock(claims_mutex_);
  if (claimed_by_other(id, writer, now)) return make_error(errc::busy, id);
  claims_[id] = claim_state{writer, until};
  return std::move(**row);
}

void sqlite_upload_index::release(const std::string& id, const std::string& writer) {
  std::lock_guard lock(claims_mutex_);
  auto it = claims_.find(id);
  if (it != claims_.end() && it->second.writer == writer) claims_.erase(it);
}

result<void> sqlite_upload_index::checkpoint(const upload_checkpoint& c) {
  {
    std::lock_guard lock(claims_mutex_);
    if (claimed_by_other(c.id, c.writer, c.now)) return make_error(errc::busy, c.id);
  }
  return pool_.write([&](sqlite_connection& db) -> result<void> {
    auto n = c.part_size
                 ? db.run(
                       "UPDATE uploads SET size = ?, hash_state = ?, store_epoch = ?, updated_at = ?, "
                       "small_part_followed = small_part_followed OR (last_part_size >= 0 AND last_part_size < ?), "
                       "last_part_size = ? WHERE id = ?",
                       c.size, as_blob(c.hash_state), c.store_epoch, c.now, c.min_part_size, *c.part_size, c.id)
                 : db.run("UPDATE uploads SET size = ?, hash_state = ?, store_epoch = ?, updated_at = ? WHERE id = ?",
                          c.size, as_blob(c.hash_state), c.store_epoch, c.now, c.id);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::blob_upload_unknown, c.id);
    return {};
  });
}

result<void> sqlite_upload_index::remove(const std::string& id) {
  auto r = pool_.write([&](sqlite_connection& db) -> result<void> {
    auto n = db.run("DELETE FROM uploads WHERE id = ?", id);
    if (!n) return n.take_error();
    return {};
  });
  if (r) {
    std::lock_guard lock(claims_mutex_);
    claims_.erase(id);
  }
  return r;
}

result<std::vector<upload_row>> sqlite_upload_index::idle_since(std::int64_t before, std::int64_t now) {
  auto rows = pool_.read([&](sqlite_connection& db) {
    return db.all("SELECT " BERTH_UPLOAD_COLUMNS
                  " FROM uploads u JOIN repositories r ON r.id = u.repository_id WHERE u.updated_at < ?",
                  read_upload, before);
  });
  if (!rows) return rows;
  std::lock_guard lock(claims_mutex_);
  std::erase_if(*rows, [&](const upload_row& u) {
    auto it = claims_.find(u.id);
    return it != claims_.end() && it->second.until > now;
  });
  return rows;
}

result<std::vector<std::string>> sqlite_upload_index::ids() {
  return pool_.read([&](sqlite_connection& db) { return db.all("SELECT id FROM uploads", text_column); });
}

}  // namespace berth::meta
