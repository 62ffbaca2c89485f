// A throwaway PostgreSQL 15 for the tests: initdb + pg_ctl in a temporary directory, on a free
// loopback port (Unix socket in the same directory), as the `postgres` OS user when the tests run
// as root (initdb refuses root). One per test binary: started on first use, stopped at exit.
// BERTH_TEST_PG_BIN overrides the binaries' directory (default /usr/lib/postgresql/15/bin).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "berth/meta/pg_connection.hpp"

namespace berth::testing_support {

class postgres_server {
 public:
  static postgres_server& shared() {
    static postgres_server server;
    return server;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string dsn(const std::string& database) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=berth dbname=" + database;
  }
  // A new, empty database; its name.
  std::string create_database() {
    std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(next_++);
    auto c = meta::pg_connection::open(dsn("postgres"));
    if (!c) return "";
    std::string sql = "CREATE DATABASE " + name;
    if (!(*c)->exec(sql.c_str())) return "";
    return name;
  }
  // pg_ctl restart (-m fast: connections are cut, as when a database server restarts).
  bool restart() { return run(pg_ctl("restart -m fast")); }
  bool stop() { return run(pg_ctl("stop -m fast")); }
  bool start() { return run(pg_ctl("start")); }

  ~postgres_server() {
    if (owner_ != ::getpid() || dir_.empty()) return;  // a forked child leaves the server alone
    run(pg_ctl("stop -m immediate"));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  postgres_server() : owner_(::getpid()) {
    const char* bin = std::getenv("BERTH_TEST_PG_BIN");
    bin_ = bin != nullptr && *bin != '\0' ? bin : "/usr/lib/postgresql/15/bin";
    if (!std::filesystem::exists(bin_ + "/initdb")) {
      error_ = "PostgreSQL not installed: no " + bin_ + "/initdb (Debian: postgresql-15; scripts/test.sh installs it)";
      return;
    }
    char tmpl[] = "/tmp/berth-pg-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    if (::geteuid() == 0) {
      passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) {
        error_ = "running as root and there is no 'postgres' user to run PostgreSQL as";
        return;
      }
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        error_ = "chown " + dir_ + " failed";
        return;
      }
      as_user_ = "runuser -u postgres -- ";
    }
    port_ = free_port();
    if (!run(as_user_ + bin_ + "/initdb -D " + dir_ + "/data -U berth -A trust -E UTF8 --locale=C --no-sync >" + dir_ +
             "/initdb.log 2>&1")) {
      error_ = "initdb failed: " + read_file(dir_ + "/initdb.log");
      return;
    }
    if (!start()) error_ = "pg_ctl start failed: " + read_file(dir_ + "/server.log");
  }

  std::string pg_ctl(const std::string& action) const {
    // fsync off: the tests check Berth's behaviour, not the durability of the test database.
    return as_user_ + bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 -o '-p " +
           std::to_string(port_) + " -k " + dir_ +
           " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' " + action + " >/dev/null 2>&1";
  }
  static bool run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }
  static std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  pid_t owner_;
  std::string bin_;
  std::string dir_;
  std::string as_user_;
  std::string error_;
  int port_ = 0;
  std::atomic<int> next_{0};
};

}  // namespace berth::testing_support
