// The blob store suite on the filesystem backend.
#include "berth/storage/filesystem_storage.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/temp_dir.hpp"
#include "blob_store_suite.hpp"

namespace berth::testing_support {
namespace {

struct filesystem_backend {
  storage::filesystem_storage open() {
    auto s = storage::open_filesystem_storage(dir.path());
    EXPECT_TRUE(s) << s.error_value().message;
    return s ? std::move(s).value() : storage::filesystem_storage{};
  }
  // A child process opens the store, runs `f` and dies with _exit: no destructor, no flush.
  template <class F>
  void crash(F&& f) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = storage::open_filesystem_storage(dir.path());
      if (!s) ::_exit(2);
      f(*s);
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the step itself failed";
  }
  temp_dir dir;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(filesystem, blob_store_suite, filesystem_backend);

}  // namespace berth::testing_support
