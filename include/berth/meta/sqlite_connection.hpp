// Thin RAII layer over sqlite3: a connection with a prepared-statement cache, statements that
// reset themselves when they go out of scope, and the one helper every query goes through
// (run / one / all / exists: prepare, bind the arguments in order, step, check).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/change_counter.hpp"
#include "berth/meta/pool_lease.hpp"
#include "berth/meta/sql_values.hpp"
#include "berth/meta/wal_checkpointer.hpp"

namespace berth::meta {

class statement {
 public:
  explicit statement(sqlite3_stmt* s) : s_(s) {}
  ~statement() {
    if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  statement(statement&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  statement& operator=(statement&&) = delete;

  statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind(int i, nullable_text v) {
    if (v.text.empty()) {
      sqlite3_bind_null(s_, i);
    } else {
      bind(i, v.text);
    }
    return *this;
  }
  statement& bind(int i, blob_value v) {
    sqlite3_bind_blob(s_, i, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Binds every argument in order, from parameter 1.
  template <class... Args>
  statement& bind_all(const Args&... args) {
    int i = 0;
    (bind_one(++i, args), ...);
    return *this;
  }

  // true: a row is available; false: done or failed (see failed()).
  bool step();
  bool failed() const { return rc_ != SQLITE_ROW && rc_ != SQLITE_DONE && rc_ != SQLITE_OK; }
  int rc() const { return rc_; }

  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  bool boolean(int col) const { return int64(col) != 0; }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::string blob(int col) const;

 private:
  template <class T>
  void bind_one(int i, const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      bind(i, std::int64_t{v ? 1 : 0});
    } else if constexpr (std::is_integral_v<T>) {
      bind(i, static_cast<std::int64_t>(v));
    } else if constexpr (std::is_same_v<T, nullable_text> || std::is_same_v<T, blob_value>) {
      bind(i, v);
    } else {
      bind(i, std::string_view(v));
    }
  }

  sqlite3_stmt* s_;
  int rc_ = SQLITE_OK;
};

class sqlite_connection {
 public:
  static result<std::unique_ptr<sqlite_connection>> open(const std::string& path, bool read_only);
  ~sqlite_connection();
  sqlite_connection(const sqlite_connection&) = delete;
  sqlite_connection& operator=(const sqlite_connection&) = delete;

  result<void> exec(const char* sql);
  // Cached by the SQL text's address: pass string literals.
  statement prepare(const char* sql);
  error last_error(const char* what) const;
  sqlite3* handle() const { return db_; }
  // Rows its cached statements stepped through in full scans of a table or index, since `reset`:
  // a statement on a growing table that finds no index shows up here.
  std::int64_t full_scan_steps(bool reset);

  // The query helper. `sql` is a string literal (the statement cache is keyed by its address).
  // run: executes to the end and returns the number of rows changed.
  template <class... Args>
  result<int> run(const char* sql, const Args&... args) {
    auto s = prepare(sql);
    s.bind_all(args...);
    while (s.step()) {
    }
    if (s.failed()) return last_error(sql);
    return sqlite3_changes(db_);
  }
  // one: the first row mapped by `read`, or nullopt.
  template <class Read, class... Args>
  auto one(const char* sql, Read&& read, const Args&... args)
      -> result<std::optional<std::invoke_result_t<Read, const statement&>>> {
    using row = std::invoke_result_t<Read, const statement&>;
    auto s = prepare(sql);
    s.bind_all(args...);
    if (s.step()) return std::optional<row>(read(s));
    if (s.failed()) return last_error(sql);
    return std::optional<row>();
  }
  // all: every row mapped by `read`.
  template <class Read, class... Args>
  auto all(const char* sql, Read&& read, const Args&... args)
      -> result<std::vector<std::invoke_result_t<Read, const statement&>>> {
    std::vector<std::invoke_result_t<Read, const statement&>> out;
    auto s = prepare(sql);
    s.bind_all(args...);
    while (s.step()) out.push_back(read(s));
    if (s.failed()) return last_error(sql);
    return out;
  }
  // exists: whether the query returns a row.
  template <class... Args>
  result<bool> exists(const char* sql, const Args&... args) {
    auto s = prepare(sql);
    s.bind_all(args...);
    if (s.step()) return true;
    if (s.failed()) return last_error(sql);
    return false;
  }

 private:
  explicit sqlite_connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// One writer (serialized) and a pool of readers: WAL lets readers run beside the writer.
class connection_pool {
 public:
  using connection = sqlite_connection;
  // Claims of upload sessions live in the process (see sql_upload_index.cpp): one server per file.
  static constexpr bool shared_between_servers = false;

  static result<std::unique_ptr<connection_pool>> open(const std::string& path, wal_policy policy = {});
  ~connection_pool();
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  using lease = pool_lease<connection_pool, sqlite_connection>;

  result<lease> reader();
  // Closes idle readers beyond `keep`: each holds a page cache and prepared statements, and a burst
  // of concurrent reads can leave dozens of them.
  void close_idle_readers(std::size_t keep);
  // Idle: a few readers stay, every cache is given back.
  void release_memory();
  std::size_t idle_readers() {
    std::lock_guard lock(readers_mutex_);
    return readers_.size();
  }
  // The writer, locked for the caller's lifetime of the returned lock.
  std::unique_lock<std::mutex> lock_writer() { return std::unique_lock(writer_mutex_); }
  sqlite_connection& writer() { return *writer_; }

  // Runs `f(connection&)` (returning result<T>) on a reader.
  template <class F>
  auto read(F&& f) -> std::invoke_result_t<F, sqlite_connection&> {
    auto r = reader();
    if (!r) return r.take_error();
    return f(**r);
  }
  // Runs `f(connection&)` inside BEGIN IMMEDIATE … COMMIT on the writer; a failure rolls it all back.
  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F, sqlite_connection&>;
  // As write, for what authorization caches: the shared change counter moves before and after the
  // commit, so a reader never keeps a state older than the commit under the counter's new value.
  template <class F>
  auto write_access(F&& f) -> std::invoke_result_t<F, sqlite_connection&> {
    access_->bump();
    auto out = write(std::forward<F>(f));
    access_->bump();
    return out;
  }
  // full_scan_steps of the writer and the idle readers (for tests of the statements' plans).
  std::int64_t full_scan_steps(bool reset);
  // What the background checkpointer has done (tests, metrics).
  wal_checkpointer::counts wal_checkpoints() const { return checkpointer_->done(); }
  // The access generation without a query (every process on this file shares the counter).
  std::optional<std::int64_t> local_access_generation() const { return static_cast<std::int64_t>(access_->load()); }

 private:
  friend class pool_lease<connection_pool, sqlite_connection>;
  connection_pool() = default;
  void give_back(std::unique_ptr<sqlite_connection> c);
  bool rewind_wal();
  std::string path_;
  std::unique_ptr<change_counter> access_;
  std::unique_ptr<sqlite_connection> writer_;
  std::mutex writer_mutex_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<sqlite_connection>> readers_;
  std::unique_ptr<wal_checkpointer> checkpointer_;
};

// BEGIN IMMEDIATE … COMMIT, rolled back unless committed.
class transaction {
 public:
  explicit transaction(sqlite_connection& c) : c_(c) {}
  ~transaction() {
    if (open_) (void)c_.exec("ROLLBACK");
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  result<void> begin() {
    auto r = c_.exec("BEGIN IMMEDIATE");
    open_ = r.has_value();
    return r;
  }
  result<void> commit() {
    auto r = c_.exec("COMMIT");
    if (r) open_ = false;
    return r;
  }

 private:
  sqlite_connection& c_;
  bool open_ = false;
};

template <class F>
auto connection_pool::write(F&& f) -> std::invoke_result_t<F, sqlite_connection&> {
  auto lock = lock_writer();
  transaction tx(*writer_);
  if (auto r = tx.begin(); !r) return r.take_error();
  auto out = f(*writer_);
  if (!out) return out;
  if (auto r = tx.commit(); !r) return r.take_error();
  return out;
}

}  // namespace berth::meta
