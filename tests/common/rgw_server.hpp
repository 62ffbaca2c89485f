// A throwaway Ceph RGW (one monitor, one memstore OSD) for the tests, started with
// tests/engines/ceph-rgw.sh on first use and stopped at exit; each test takes its own bucket.
// Minimum part size 64 KiB (AWS: 5 MiB) so multipart paths run with small bodies. Under ctest, one
// cluster serves every test process: the fixture test `rgw_start` starts it in BERTH_TEST_RGW_DIR
// and `rgw_stop` stops it (tests/CMakeLists.txt).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "berth/storage/s3_storage.hpp"

namespace berth::testing_support {

class rgw_server {
 public:
  static rgw_server& shared() {
    static rgw_server server;
    return server;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Options for a new bucket of its own (created on open).
  storage::s3_options options() {
    storage::s3_options o;
    o.endpoint = endpoint();
    o.bucket = "t" + std::to_string(::getpid()) + "-" + std::to_string(next_++);
    o.access_key_id = access_key_;
    o.secret_access_key = secret_key_;
    return o;
  }
  bool stop_gateway() { return run("stop-rgw") == 0; }
  bool start_gateway() { return run("start-rgw") == 0; }

  ~rgw_server() {
    if (owner_ != ::getpid() || dir_.empty()) return;  // a forked child leaves the cluster alone
    run("stop");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  rgw_server() : owner_(::getpid()) {
    if (const char* shared = std::getenv("BERTH_TEST_RGW_DIR"); shared != nullptr && *shared != '\0') {
      std::ifstream in(std::string(shared) + "/endpoint");
      if (in >> port_ >> access_key_ >> secret_key_) {
        dir_ = shared;
        owner_ = -1;  // started by the ctest fixture, stopped by it
        return;
      }
    }
    char tmpl[] = "/tmp/berth-rgw-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string cmd = "BERTH_TEST_RGW_MIN_PART=65536 BERTH_TEST_RGW_MEMSTORE_MIB=2048 " + script() + " start " + dir_ +
                      " 2>>" + dir_ + "/start.err";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      error_ = "cannot run " + script();
      return;
    }
    char line[512] = {};
    std::string out;
    while (std::fgets(line, sizeof line, p) != nullptr) out += line;
    if (::pclose(p) != 0) {
      error_ =
          "Ceph RGW did not start (tests/engines/ceph-rgw.sh; Debian: ceph-mon ceph-osd radosgw ceph-common; "
          "log in " +
          dir_ + "): " + out;
      return;
    }
    std::istringstream in(out);
    in >> port_ >> access_key_ >> secret_key_;
    if (port_ == 0 || secret_key_.empty()) error_ = "unexpected output from ceph-rgw.sh: " + out;
  }
  static std::string script() { return std::string(BERTH_TEST_ENGINES_DIR) + "/ceph-rgw.sh"; }
  int run(const std::string& what) {
    return std::system((script() + " " + what + " " + dir_ + " >/dev/null 2>&1").c_str());
  }

  pid_t owner_;
  std::string dir_;
  std::string error_;
  int port_ = 0;
  std::string access_key_;
  std::string secret_key_;
  int next_ = 0;
};

}  // namespace berth::testing_support
