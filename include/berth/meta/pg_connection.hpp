// Thin layer over libpq with the same query helper as sqlite_connection (run / one / all / exists:
// prepare once per connection, bind in order, execute, check), so the metadata roles are written
// once for both dialects. Statements are written with SQLite's `?` / `?N` placeholders; the first
// use on a connection rewrites them to `$N` and prepares the statement under a name.
//
// Results come back in text format (integers as decimal text, booleans as t/f, BYTEA as hex);
// arguments go as text, bytes as binary. libpq's types stay out of this header.
#pragma once

#include <chrono>
#include <condition_variable>
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
#include "berth/meta/pool_lease.hpp"
#include "berth/meta/sql_values.hpp"

struct pg_conn;    // libpq's PGconn
struct pg_result;  // libpq's PGresult

namespace berth::meta {

// The arguments of one statement as libpq takes them.
class pg_arguments {
 public:
  template <class... Args>
  explicit pg_arguments(const Args&... args) {
    (add(args), ...);
  }
  int count() const { return static_cast<int>(values_.size()); }
  // Pointers into this object: valid while it lives and is not changed.
  std::vector<const char*> pointers() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void push(std::string v, bool binary, bool null) {
    lengths_.push_back(static_cast<int>(v.size()));
    formats_.push_back(binary ? 1 : 0);
    null_.push_back(null ? 1 : 0);
    values_.push_back(std::move(v));
  }
  template <class T>
  void add(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      push(v ? "1" : "0", false, false);
    } else if constexpr (std::is_integral_v<T>) {
      push(std::to_string(v), false, false);
    } else if constexpr (std::is_same_v<T, nullable_text>) {
      push(std::string(v.text), false, v.text.empty());
    } else if constexpr (std::is_same_v<T, blob_value>) {
      push(std::string(v.bytes), true, false);
    } else {
      push(std::string(std::string_view(v)), false, false);
    }
  }
  std::vector<std::string> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<char> null_;
};

struct pg_result_free {
  void operator()(pg_result* r) const;
};
using pg_result_ptr = std::unique_ptr<pg_result, pg_result_free>;

// One row of a result, with the accessors the row readers use.
class pg_row {
 public:
  pg_row(const pg_result* r, int row) : r_(r), row_(row) {}
  std::int64_t int64(int col) const;  // NULL reads as 0, a boolean as 0/1
  bool boolean(int col) const;
  bool is_null(int col) const;
  std::string text(int col) const;  // NULL reads as ""
  std::string blob(int col) const;  // BYTEA, decoded; NULL reads as ""

 private:
  const pg_result* r_;
  int row_;
};

class pg_connection {
 public:
  static result<std::unique_ptr<pg_connection>> open(const std::string& dsn);
  ~pg_connection();
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  // One or more statements without arguments (simple query protocol).
  result<void> exec(const char* sql);

  template <class... Args>
  result<int> run(const char* sql, const Args&... args) {
    auto r = execute(sql, pg_arguments(args...));
    if (!r) return r.take_error();
    return changed_rows(r->get());
  }
  template <class Read, class... Args>
  auto one(const char* sql, Read&& read, const Args&... args)
      -> result<std::optional<std::invoke_result_t<Read, const pg_row&>>> {
    using row = std::invoke_result_t<Read, const pg_row&>;
    auto r = execute(sql, pg_arguments(args...));
    if (!r) return r.take_error();
    if (row_count(r->get()) == 0) return std::optional<row>();
    return std::optional<row>(read(pg_row(r->get(), 0)));
  }
  template <class Read, class... Args>
  auto all(const char* sql, Read&& read, const Args&... args)
      -> result<std::vector<std::invoke_result_t<Read, const pg_row&>>> {
    auto r = execute(sql, pg_arguments(args...));
    if (!r) return r.take_error();
    std::vector<std::invoke_result_t<Read, const pg_row&>> out;
    const int n = row_count(r->get());
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out.push_back(read(pg_row(r->get(), i)));
    return out;
  }
  template <class... Args>
  result<bool> exists(const char* sql, const Args&... args) {
    auto r = execute(sql, pg_arguments(args...));
    if (!r) return r.take_error();
    return row_count(r->get()) > 0;
  }

  // The last statement failed in a way a new transaction may not: a serialisation failure, a
  // deadlock, or a unique key another transaction took first.
  bool retryable() const;
  // The connection is gone (the server restarted or the network failed): it cannot be reused.
  bool broken() const;
  // The SQLSTATE of the last failure, "" after a success.
  const std::string& last_sqlstate() const { return sqlstate_; }

  // The statement text libpq receives for `sql` (placeholders rewritten); exposed for tests.
  static std::string rewrite_placeholders(std::string_view sql, int* count = nullptr);

 private:
  explicit pg_connection(pg_conn* c) : c_(c) {}
  result<pg_result_ptr> execute(const char* sql, const pg_arguments& args);
  error failure(pg_result* r, std::string_view what);
  static int changed_rows(pg_result* r);
  static int row_count(const pg_result* r);

  pg_conn* c_;
  std::unordered_map<const char*, std::string> prepared_;  // by the literal's address
  std::string sqlstate_;
};

// A bounded pool of connections to one database. read() runs in autocommit (every statement sees
// the latest commits); write() runs the whole function in one SERIALIZABLE transaction and runs it
// again when PostgreSQL reports a conflict with a concurrent transaction, so each role operation
// behaves as if it ran alone: the guarantee SQLite's single writer gives.
class pg_pool {
 public:
  using connection = pg_connection;
  // Several servers share the database: claims of upload sessions are rows, not process state.
  static constexpr bool shared_between_servers = true;

  struct options {
    std::string dsn;
    std::size_t max_connections = 16;
    std::chrono::milliseconds acquire_timeout{10000};
    int max_attempts = 30;  // per write, for serialisation failures
  };
  static result<std::unique_ptr<pg_pool>> open(const options& o);

  using lease = pool_lease<pg_pool, pg_connection>;

  // A connection, waiting up to acquire_timeout while all max_connections are in use.
  result<lease> acquire();
  void close_idle(std::size_t keep);
  void release_memory() { close_idle(2); }
  std::size_t open_connections();

  template <class F>
  auto read(F&& f) -> std::invoke_result_t<F, pg_connection&>;
  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F, pg_connection&>;
  // Servers share the generation through its row: no local shortcut.
  template <class F>
  auto write_access(F&& f) -> std::invoke_result_t<F, pg_connection&> {
    return write(std::forward<F>(f));
  }
  std::optional<std::int64_t> local_access_generation() const { return std::nullopt; }

 private:
  explicit pg_pool(options o) : options_(std::move(o)) {}
  friend class pool_lease<pg_pool, pg_connection>;
  void give_back(std::unique_ptr<pg_connection> c);
  void pause_before_retry(int attempt);

  options options_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pg_connection>> idle_;
  std::size_t open_ = 0;
};

template <class F>
auto pg_pool::read(F&& f) -> std::invoke_result_t<F, pg_connection&> {
  for (int attempt = 1;; ++attempt) {
    auto c = acquire();
    if (!c) return c.take_error();
    auto out = f(**c);
    // A connection the server dropped (a restart) fails once; a fresh one may succeed.
    if (out || !(*c)->broken() || attempt >= 2) return out;
  }
}

template <class F>
auto pg_pool::write(F&& f) -> std::invoke_result_t<F, pg_connection&> {
  for (int attempt = 1;; ++attempt) {
    auto c = acquire();
    if (!c) return c.take_error();
    auto& db = **c;
    if (auto r = db.exec("BEGIN ISOLATION LEVEL SERIALIZABLE"); !r) {
      if (db.broken() && attempt < 2) continue;
      return r.take_error();
    }
    auto out = f(db);
    if (!out) {
      const bool again = db.retryable() || db.broken();
      if (!db.broken()) (void)db.exec("ROLLBACK");
      if (!again || attempt >= options_.max_attempts) return out;
      pause_before_retry(attempt);
      continue;
    }
    auto committed = db.exec("COMMIT");
    if (committed) return out;
    // A COMMIT that failed for a conflict did nothing; one lost with the connection may have
    // committed, so it is reported, not repeated.
    if (!db.retryable() || attempt >= options_.max_attempts) return committed.take_error();
    pause_before_retry(attempt);
  }
}

}  // namespace berth::meta
