// The direct-I/O appender sits below the upload store interface: tested through its private header.
#include "../../src/storage/direct_appender.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../common/temp_dir.hpp"

namespace berth::storage {
namespace {

using testing_support::temp_dir;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class DirectAppender : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() / "upload";
    std::ofstream(path_).flush();
    file_handle probe(::open(path_.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    if (!probe.valid()) GTEST_SKIP() << "no O_DIRECT on " << dir_.path() << " (set TMPDIR to a disk filesystem)";
  }

  // Writes `prefix` through the page cache, then appends `rest` with a direct_appender in pieces
  // of `piece` bytes, the way an upload continues a session.
  std::unique_ptr<direct_appender> open_at_end(direct_appender::hash_sink hash = {}) {
    auto append = std::make_shared<file_handle>(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    file_handle direct(::open(path_.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
    return direct_appender::create(std::move(direct), append, std::filesystem::file_size(path_), pool_,
                                   std::move(hash));
  }

  void write_prefix(const std::string& prefix) { std::ofstream(path_, std::ios::binary | std::ios::trunc) << prefix; }

  temp_dir dir_;
  std::filesystem::path path_;
  disk_io_pool pool_{2};
};

TEST_F(DirectAppender, FileHoldsEveryByteForAlignedAndUnalignedSizes) {
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, direct_appender::block_size - 1,
        direct_appender::block_size, 3 * direct_appender::block_size + 12345}) {
    write_prefix("");
    auto data = random_bytes(size, static_cast<unsigned>(size));
    {
      auto a = open_at_end();
      ASSERT_NE(a, nullptr);
      for (std::size_t i = 0; i < size; i += 100'000) {
        ASSERT_TRUE(a->append(data.data() + i, std::min<std::size_t>(100'000, size - i)));
      }
      ASSERT_TRUE(a->flush());
    }
    EXPECT_EQ(read_file(path_), data) << "size " << size;
  }
}

TEST_F(DirectAppender, ResumesAtAnUnalignedEndWrittenThroughThePageCache) {
  auto prefix = random_bytes(5000, 1);
  write_prefix(prefix);
  auto rest = random_bytes(2 * direct_appender::block_size + 777, 2);
  {
    auto a = open_at_end();
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(a->append(rest.data(), rest.size()));
    ASSERT_TRUE(a->flush());
  }
  // And once more from the new, again unaligned, end.
  auto more = random_bytes(3000, 3);
  {
    auto a = open_at_end();
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(a->append(more.data(), more.size()));
    ASSERT_TRUE(a->flush());
  }
  EXPECT_EQ(read_file(path_), prefix + rest + more);
}

TEST_F(DirectAppender, FlushCanBeFollowedByMoreAppends) {
  auto a = open_at_end();
  ASSERT_NE(a, nullptr);
  auto one = random_bytes(10'000, 4);
  auto two = random_bytes(direct_appender::block_size + 5, 5);
  ASSERT_TRUE(a->append(one.data(), one.size()));
  ASSERT_TRUE(a->flush());
  EXPECT_EQ(read_file(path_), one);
  ASSERT_TRUE(a->append(two.data(), two.size()));
  ASSERT_TRUE(a->flush());
  EXPECT_EQ(read_file(path_), one + two);
}

// The hash sink runs on pool threads; it must still see each new byte once, in order, and never the
// bytes that were already in the file.
TEST_F(DirectAppender, HashSinkSeesEveryNewByteOnceInOrder) {
  auto prefix = random_bytes(7000, 7);
  write_prefix(prefix);
  std::string seen;
  auto sink = [&seen](const char* d, std::size_t n) { seen.append(d, n); };
  auto one = random_bytes(4 * direct_appender::block_size + 99, 8);
  auto two = random_bytes(direct_appender::block_size + 1, 9);
  {
    auto a = open_at_end(sink);
    ASSERT_NE(a, nullptr);
    for (std::size_t i = 0; i < one.size(); i += 65536) {
      auto space = a->free_space();  // the receive-in-place path
      std::size_t n = std::min({std::size_t{65536}, one.size() - i, space.size()});
      std::memcpy(space.data(), one.data() + i, n);
      ASSERT_TRUE(a->commit(n));
      if (n < std::min<std::size_t>(65536, one.size() - i)) {
        ASSERT_TRUE(a->append(one.data() + i + n, std::min<std::size_t>(65536, one.size() - i) - n));
      }
    }
    ASSERT_TRUE(a->flush());
    EXPECT_EQ(seen, one);
    ASSERT_TRUE(a->append(two.data(), two.size()));
    ASSERT_TRUE(a->flush());
  }
  EXPECT_EQ(seen, one + two);
  EXPECT_EQ(read_file(path_), prefix + one + two);
}

TEST_F(DirectAppender, BufferBudgetIsBounded) {
  std::vector<std::unique_ptr<direct_appender>> held;
  for (std::size_t i = 0; i < direct_appender::max_buffers / direct_appender::buffers_each; ++i) {
    held.push_back(open_at_end());
    ASSERT_NE(held.back(), nullptr) << i;
  }
  EXPECT_EQ(open_at_end(), nullptr);  // over budget: the caller falls back to the page cache
  held.pop_back();
  EXPECT_NE(open_at_end(), nullptr);  // a released appender gives its buffers back
}

TEST_F(DirectAppender, AFailedBlockWriteKeepsOnlyWholeOrderedBytes) {
  // RLIMIT_FSIZE makes the second block's write fail (EFBIG) without filling a disk.
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = direct_appender::block_size + direct_appender::block_size / 2;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  auto data = random_bytes(3 * direct_appender::block_size, 6);
  bool failed = false;
  {
    auto a = open_at_end();
    ASSERT_NE(a, nullptr);
    failed = !a->append(data.data(), data.size()) || !a->flush();
    EXPECT_FALSE(a->flush()) << "a failed appender keeps failing";
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  EXPECT_TRUE(failed);
  auto content = read_file(path_);
  EXPECT_EQ(content.size(), direct_appender::block_size);
  EXPECT_EQ(content, data.substr(0, direct_appender::block_size));
}

// A session resumed off a block boundary: the first direct write rewrites the read-back part of
// the block. If it fails, the bytes that were in the file before the request must all stay.
TEST_F(DirectAppender, AFailedFirstBlockKeepsWhatTheFileHeldBefore) {
  auto prefix = random_bytes(direct_appender::block_size + 5000, 10);
  write_prefix(prefix);
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = prefix.size() + 100;  // the first block (to 2 * block_size) cannot be written whole
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  auto data = random_bytes(2 * direct_appender::block_size, 11);
  bool failed = false;
  {
    auto a = open_at_end();
    ASSERT_NE(a, nullptr);
    failed = !a->append(data.data(), data.size()) || !a->flush();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  EXPECT_TRUE(failed);
  EXPECT_EQ(read_file(path_), prefix);
}

}  // namespace
}  // namespace berth::storage
