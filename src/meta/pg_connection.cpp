#include "berth/meta/pg_connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <random>
#include <stdexcept>
#include <thread>

namespace berth::meta {
namespace {

bool one_of(const std::string& state, std::initializer_list<const char*> states) {
  for (const char* s : states) {
    if (state == s) return true;
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void pg_result_free::operator()(pg_result* r) const { PQclear(r); }

std::vector<const char*> pg_arguments::pointers() const {
  std::vector<const char*> p;
  p.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) p.push_back(null_[i] ? nullptr : values_[i].data());
  return p;
}

// ---- rows

std::int64_t pg_row::int64(int col) const {
  auto* r = const_cast<PGresult*>(r_);
  if (PQgetisnull(r, row_, col)) return 0;
  const char* v = PQgetvalue(r, row_, col);
  const int n = PQgetlength(r, row_, col);
  if (n == 1 && (v[0] == 't' || v[0] == 'f')) return v[0] == 't' ? 1 : 0;
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(v, v + n, out);
  if (ec != std::errc()) {
    // SUM() of integers is NUMERIC: "123" parses above; anything else is a bug in a query.
    throw std::logic_error(std::string("postgres: column ") + std::to_string(col) + " is not an integer: " + v);
  }
  return out;
}

bool pg_row::boolean(int col) const { return int64(col) != 0; }

bool pg_row::is_null(int col) const { return PQgetisnull(const_cast<PGresult*>(r_), row_, col) != 0; }

std::string pg_row::text(int col) const {
  auto* r = const_cast<PGresult*>(r_);
  if (PQgetisnull(r, row_, col)) return {};
  return std::string(PQgetvalue(r, row_, col), static_cast<std::size_t>(PQgetlength(r, row_, col)));
}

std::string pg_row::blob(int col) const {
  auto* r = const_cast<PGresult*>(r_);
  if (PQgetisnull(r, row_, col)) return {};
  const char* v = PQgetvalue(r, row_, col);
  const auto n = static_cast<std::size_t>(PQgetlength(r, row_, col));
  // bytea_output = hex (the default since 9.0): "\x" then two digits per byte.
  if (n < 2 || v[0] != '\\' || v[1] != 'x') throw std::logic_error("postgres: BYTEA not in hex format");
  std::string out;
  out.resize((n - 2) / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(v[2 + 2 * i]);
    const int lo = hex_value(v[3 + 2 * i]);
    if (hi < 0 || lo < 0) throw std::logic_error("postgres: bad hex in BYTEA");
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

// ---- connections

result<std::unique_ptr<pg_connection>> pg_connection::open(const std::string& dsn) {
  // The DSN is expanded last, so what it sets wins over these defaults.
  const char* keys[] = {"application_name", "connect_timeout", "dbname", nullptr};
  const char* values[] = {"berth", "5", dsn.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (c == nullptr) return make_error(errc::unavailable, "metadata database: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return make_error(errc::unavailable, "metadata database unavailable: " + msg);
  }
  std::unique_ptr<pg_connection> out(new pg_connection(c));
  // No statement may hold a request (and a worker thread) for long: a database too slow to answer
  // in 30 s is unavailable. Notices (e.g. "already exists, skipping") stay out of the log.
  if (auto r = out->exec("SET client_min_messages = warning; SET statement_timeout = '30s'"); !r) {
    return r.take_error();
  }
  return out;
}

pg_connection::~pg_connection() { PQfinish(c_); }

bool pg_connection::retryable() const { return one_of(sqlstate_, {"40001", "40P01", "23505"}); }

bool pg_connection::broken() const { return PQstatus(c_) != CONNECTION_OK; }

error pg_connection::failure(PGresult* r, std::string_view what) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state != nullptr ? state : (broken() ? "08006" : "XX000");
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (broken() || sqlstate_.starts_with("08") || one_of(sqlstate_, {"57P01", "57P02", "57P03", "53300", "57014"})) {
    return make_error(errc::unavailable, "metadata database unavailable: " + msg);
  }
  if (one_of(sqlstate_, {"53100"})) return make_error(errc::storage_full, "metadata database: " + msg);
  return make_error(errc::internal, std::string("postgres: ") + std::string(what) + ": " + msg);
}

result<void> pg_connection::exec(const char* sql) {
  pg_result_ptr r(PQexec(c_, sql));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return failure(r.get(), sql);
  sqlstate_.clear();
  return {};
}

std::string pg_connection::rewrite_placeholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  int highest = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'') quoted = !quoted;
    if (quoted || c != '?') {
      out.push_back(c);
      continue;
    }
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    int n = 0;
    if (j > i + 1) {
      std::from_chars(sql.data() + i + 1, sql.data() + j, n);
    } else {
      n = ++next;
    }
    highest = std::max(highest, n);
    out += '$';
    out += std::to_string(n);
    i = j - 1;
  }
  if (count != nullptr) *count = highest;
  return out;
}

result<pg_result_ptr> pg_connection::execute(const char* sql, const pg_arguments& args) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "b" + std::to_string(prepared_.size());
    int params = 0;
    auto text = rewrite_placeholders(sql, &params);
    pg_result_ptr p(PQprepare(c_, name.c_str(), text.c_str(), params, nullptr));
    if (!p || PQresultStatus(p.get()) != PGRES_COMMAND_OK) {
      auto e = failure(p.get(), sql);
      // A statement PostgreSQL cannot parse is a bug in Berth, not a runtime condition.
      if (sqlstate_.starts_with("42")) throw std::logic_error(e.message + " in: " + text);
      return e;
    }
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  auto values = args.pointers();
  pg_result_ptr r(
      PQexecPrepared(c_, it->second.c_str(), args.count(), values.data(), args.lengths(), args.formats(), 0));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return failure(r.get(), sql);
  sqlstate_.clear();
  return r;
}

int pg_connection::changed_rows(pg_result* r) {
  const char* n = PQcmdTuples(r);
  int out = 0;
  if (n != nullptr && *n != '\0') std::from_chars(n, n + std::char_traits<char>::length(n), out);
  return out;
}

int pg_connection::row_count(const pg_result* r) { return PQntuples(const_cast<PGresult*>(r)); }

// ---- the pool

result<std::unique_ptr<pg_pool>> pg_pool::open(const options& o) {
  std::unique_ptr<pg_pool> p(new pg_pool(o));
  // One connection up front: a wrong DSN or a database that is down fails the start, clearly.
  auto first = p->acquire();
  if (!first) return first.take_error();
  return p;
}

result<pg_pool::lease> pg_pool::acquire() {
  std::unique_lock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    while (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      if (!c->broken()) return lease(*this, std::move(c));
      --open_;
    }
    if (open_ < options_.max_connections) break;
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      return make_error(errc::unavailable,
                        "metadata database: all " + std::to_string(options_.max_connections) + " connections busy");
    }
  }
  ++open_;
  lock.unlock();
  auto c = pg_connection::open(options_.dsn);
  if (!c) {
    std::lock_guard again(mutex_);
    --open_;
    freed_.notify_one();
    return c.take_error();
  }
  return lease(*this, std::move(c).value());
}

void pg_pool::give_back(std::unique_ptr<pg_connection> c) {
  std::lock_guard lock(mutex_);
  if (c->broken()) {
    --open_;
  } else {
    idle_.push_back(std::move(c));
  }
  freed_.notify_one();
}

void pg_pool::close_idle(std::size_t keep) {
  std::vector<std::unique_ptr<pg_connection>> closing;
  {
    std::lock_guard lock(mutex_);
    while (idle_.size() > keep) {
      closing.push_back(std::move(idle_.back()));
      idle_.pop_back();
      --open_;
    }
  }
}

std::size_t pg_pool::open_connections() {
  std::lock_guard lock(mutex_);
  return open_;
}

void pg_pool::pause_before_retry(int attempt) {
  // Conflicting transactions retried at the same moment would conflict again: a random pause,
  // growing with the attempts, up to ~50 ms.
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int ceiling = std::min(50, 1 << std::min(attempt, 6));
  std::uniform_int_distribution<int> d(0, ceiling * 1000);
  std::this_thread::sleep_for(std::chrono::microseconds(d(rng)));
}

}  // namespace berth::meta
