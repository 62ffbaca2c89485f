#include "berth/meta/sqlite_connection.hpp"

#include <stdexcept>

namespace berth::meta {

bool statement::step() {
  rc_ = sqlite3_step(s_);
  return rc_ == SQLITE_ROW;
}

std::string statement::text(int col) const {
  auto p = sqlite3_column_text(s_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
}

std::string statement::blob(int col) const {
  auto p = sqlite3_column_blob(s_, col);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
}

result<std::unique_ptr<sqlite_connection>> sqlite_connection::open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return make_error(errc::internal, "open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<sqlite_connection> c(new sqlite_connection(db));
  if (!read_only) {
    // WAL with synchronous=FULL: a committed transaction survives power loss.
    for (auto sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      if (auto r = c->exec(sql); !r) return r.take_error();
    }
  }
  return c;
}

sqlite_connection::~sqlite_connection() {
  for (auto& [k, s] : cache_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

result<void> sqlite_connection::exec(const char* sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string m = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return make_error((rc & 0xff) == SQLITE_FULL ? errc::storage_full : errc::internal, "sqlite: " + m);
  }
  return {};
}

statement sqlite_connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return statement(it->second);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    // A statement that does not compile is a bug in Berth, not a runtime condition.
    throw std::logic_error(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db_) + " in: " + sql);
  }
  cache_.emplace(sql, s);
  return statement(s);
}

std::int64_t sqlite_connection::full_scan_steps(bool reset) {
  std::int64_t steps = 0;
  for (auto& [sql, s] : cache_) steps += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, reset ? 1 : 0);
  return steps;
}

error sqlite_connection::last_error(const char* what) const {
  int rc = sqlite3_errcode(db_);
  return make_error((rc & 0xff) == SQLITE_FULL ? errc::storage_full : errc::internal,
                    std::string(what) + ": " + sqlite3_errmsg(db_));
}

result<std::unique_ptr<connection_pool>> connection_pool::open(const std::string& path, wal_policy policy) {
  auto w = sqlite_connection::open(path, false);
  if (!w) return w.take_error();
  auto own = sqlite_connection::open(path, false);
  if (!own) return own.take_error();
  auto counter = change_counter::open(path + "-access");
  if (!counter) return counter.take_error();
  std::unique_ptr<connection_pool> p(new connection_pool());
  p->path_ = path;
  p->access_ = std::move(counter).value();
  p->writer_ = std::move(w).value();
  p->checkpointer_ = std::make_unique<wal_checkpointer>(std::move(own).value(), policy,
                                                        [pool = p.get()] { return pool->rewind_wal(); });
  // The hook replaces SQLite's automatic checkpoint on the writer.
  sqlite3_wal_hook(p->writer_->handle(), &wal_checkpointer::after_commit, p->checkpointer_.get());
  return p;
}

connection_pool::~connection_pool() {
  if (writer_) sqlite3_wal_hook(writer_->handle(), nullptr, nullptr);
  checkpointer_.reset();
}

bool connection_pool::rewind_wal() {
  std::lock_guard lock(writer_mutex_);
  // Readers of snapshots older than the last checkpoint get 100 ms to finish; a rewind that cannot
  // wait that long gives up and is tried again a second later.
  sqlite3_busy_timeout(writer_->handle(), 100);
  int rc = sqlite3_wal_checkpoint_v2(writer_->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(writer_->handle(), 10000);
  return rc == SQLITE_OK;
}

result<connection_pool::lease> connection_pool::reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!readers_.empty()) {
      auto c = std::move(readers_.back());
      readers_.pop_back();
      return lease(*this, std::move(c));
    }
  }
  auto c = sqlite_connection::open(path_, true);
  if (!c) return c.take_error();
  return lease(*this, std::move(c).value());
}

void connection_pool::close_idle_readers(std::size_t keep) {
  std::vector<std::unique_ptr<sqlite_connection>> closing;
  {
    std::lock_guard lock(readers_mutex_);
    while (readers_.size() > keep) {
      closing.push_back(std::move(readers_.back()));
      readers_.pop_back();
    }
    // The ones kept drop their page caches (refilled from the OS page cache on the next read).
    for (auto& r : readers_) sqlite3_db_release_memory(r->handle());
  }
  if (std::unique_lock writer(writer_mutex_, std::try_to_lock); writer.owns_lock()) {
    sqlite3_db_release_memory(writer_->handle());
  }
}

void connection_pool::release_memory() {
  close_idle_readers(2);
  sqlite3_release_memory(64 << 20);
}

std::int64_t connection_pool::full_scan_steps(bool reset) {
  std::int64_t steps = 0;
  {
    std::lock_guard lock(writer_mutex_);
    steps += writer_->full_scan_steps(reset);
  }
  std::lock_guard lock(readers_mutex_);
  for (auto& r : readers_) steps += r->full_scan_steps(reset);
  return steps;
}

void connection_pool::give_back(std::unique_ptr<sqlite_connection> c) {
  std::lock_guard lock(readers_mutex_);
  if (readers_.size() < 64) readers_.push_back(std::move(c));
}

}  // namespace berth::meta
