// Thin RAII layer over sqlite3: a connection with a prepared-statement cache, and statements
// that reset themselves when they go out of scope.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "berth/core/error.hpp"

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
  statement& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // Text, or NULL when empty.
  statement& bind_opt(int i, std::string_view v) { return v.empty() ? bind_null(i) : bind(i, v); }

  // true: a row is available; false: done. Errors become an `error` via last_error().
  bool step();
  bool failed() const { return rc_ != SQLITE_ROW && rc_ != SQLITE_DONE && rc_ != SQLITE_OK; }
  int rc() const { return rc_; }

  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::string blob(int col) const;

 private:
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

 private:
  explicit sqlite_connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// One writer (serialized) and a pool of readers: WAL lets readers run beside the writer.
class connection_pool {
 public:
  static result<std::unique_ptr<connection_pool>> open(const std::string& path);

  class lease {
   public:
    lease(connection_pool& pool, std::unique_ptr<sqlite_connection> c) : pool_(&pool), c_(std::move(c)) {}
    ~lease() {
      if (c_) pool_->give_back(std::move(c_));
    }
    lease(lease&&) noexcept = default;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    lease& operator=(lease&&) = delete;
    sqlite_connection* operator->() const { return c_.get(); }
    sqlite_connection& operator*() const { return *c_; }

   private:
    connection_pool* pool_;
    std::unique_ptr<sqlite_connection> c_;
  };

  result<lease> reader();
  // Closes idle readers beyond `keep`: each holds a page cache and prepared statements, and a burst
  // of concurrent reads can leave dozens of them.
  void close_idle_readers(std::size_t keep);
  std::size_t idle_readers() {
    std::lock_guard lock(readers_mutex_);
    return readers_.size();
  }
  // The writer, locked for the caller's lifetime of the returned lock.
  std::unique_lock<std::mutex> lock_writer() { return std::unique_lock(writer_mutex_); }
  sqlite_connection& writer() { return *writer_; }

 private:
  void give_back(std::unique_ptr<sqlite_connection> c);
  std::string path_;
  std::unique_ptr<sqlite_connection> writer_;
  std::mutex writer_mutex_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<sqlite_connection>> readers_;
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

}  // namespace berth::meta
