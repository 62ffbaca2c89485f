// The SQLite metadata backend: one connection pool (a writer and readers) shared by its roles.
#include "berth/meta/sqlite_metadata.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "berth/meta/migrations.hpp"
#include "sql_roles.hpp"

namespace berth::meta {

result<std::unique_ptr<metadata_store>> open_sqlite_metadata(const std::filesystem::path& db_path) {
  auto pool = connection_pool::open(db_path.string());
  if (!pool) return pool.take_error();
  {
    auto lock = (*pool)->lock_writer();
    if (auto r = migrate((*pool)->writer()); !r) return r.take_error();
  }
  return std::unique_ptr<metadata_store>(new sql_metadata<connection_pool>(std::move(pool).value()));
}

}  // namespace berth::meta

namespace berth::meta {
namespace {

struct sqlite_handle {
  sqlite3* db = nullptr;
  ~sqlite_handle() {
    if (db) sqlite3_close_v2(db);
  }
};

result<void> failed(const char* what, sqlite3* db) {
  return make_error(errc::internal, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

result<void> snapshot_sqlite_database(const std::filesystem::path& db_path, const std::filesystem::path& out) {
  sqlite_handle src;
  if (sqlite3_open_v2(db_path.c_str(), &src.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    return failed("open the database", src.db);
  }
  sqlite3_busy_timeout(src.db, 10000);
  const auto tmp = out.string() + ".partial";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  {
    sqlite_handle dst;
    if (sqlite3_open_v2(tmp.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      return failed("create the snapshot", dst.db);
    }
    // All pages in one step: one read transaction, so one consistent state.
    sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (!b) return failed("start the snapshot", dst.db);
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) return failed("copy the database", dst.db);
    const char* forget =
        "PRAGMA journal_mode = DELETE;"
        "DELETE FROM uploads;"
        "DELETE FROM leases;"
        "UPDATE replication_jobs SET holder = '', held_until = 0;"
        "UPDATE cache_imports SET holder = '', held_until = 0;"
        "UPDATE event_outbox SET holder = '', held_until = 0;";
    char* message = nullptr;
    if (sqlite3_exec(dst.db, forget, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : "?";
      sqlite3_free(message);
      return make_error(errc::internal, "prepare the snapshot: " + why);
    }
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) return make_error(errc::internal, "cannot fsync " + tmp);
  std::filesystem::rename(tmp, out, ec);
  if (ec) return make_error(errc::internal, "cannot rename " + tmp + ": " + ec.message());
  return {};
}

result<bool> forget_unreferenced_blobs(const std::filesystem::path& snapshot, const std::vector<std::string>& digests) {
  if (digests.empty()) return true;
  auto pool = connection_pool::open(snapshot.string());
  if (!pool) return pool.take_error();
  return (*pool)->write([&](auto& db) -> result<bool> {
    for (const auto& d : digests) {
      auto used = db.exists("SELECT 1 FROM manifest_references WHERE child_digest = ? AND child_is_manifest = 0", d);
      if (!used) return used.take_error();
      if (*used) return false;
      if (auto r = db.run("DELETE FROM repository_blobs WHERE digest = ?", d); !r) return r.take_error();
      if (auto r = db.run("DELETE FROM blobs WHERE digest = ?", d); !r) return r.take_error();
    }
    return true;
  });
}

}  // namespace berth::meta
