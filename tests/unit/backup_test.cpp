// Backups below the command line: the blob archive (only whole, verified blobs appear), the copy of
// the blobs a snapshot records (incremental), and the progress line.
#include <gtest/gtest.h>

#include <fstream>

#include "../common/registry_fixture.hpp"
#include "berth/cli/progress_meter.hpp"
#include "berth/registry/blob_backup.hpp"

using namespace berth;

namespace {

class string_reader final : public byte_reader {
 public:
  explicit string_reader(std::string s) : s_(std::move(s)) {}
  result<std::size_t> read(char* out, std::size_t size) override {
    auto n = std::min(size, s_.size() - at_);
    std::copy_n(s_.data() + at_, n, out);
    at_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t at_ = 0;
};

std::size_t files_under(const std::filesystem::path& p) {
  std::size_t n = 0;
  if (!std::filesystem::exists(p)) return 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(p)) n += e.is_regular_file();
  return n;
}

TEST(blob_archive, keeps_only_whole_verified_blobs) {
  testing_support::temp_dir dir;
  storage::blob_archive archive(dir.path());
  const std::string bytes = "the bytes of a layer";
  const auto d = digest_of(bytes);
  EXPECT_FALSE(archive.holds(d, bytes.size()));
  string_reader wrong("the bytes of a layeR");
  auto refused = archive.put(d, bytes.size(), wrong);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error_value().code, errc::digest_invalid);
  string_reader longer(bytes + "more");
  EXPECT_FALSE(archive.put(d, bytes.size(), longer));
  EXPECT_EQ(files_under(dir.path()), 0u);  // nothing left behind
  string_reader right(bytes);
  std::uint64_t told = 0;
  ASSERT_TRUE(archive.put(d, bytes.size(), right, [&](std::uint64_t n) { told += n; }));
  EXPECT_EQ(told, bytes.size());
  EXPECT_TRUE(archive.holds(d, bytes.size()));
  EXPECT_FALSE(archive.holds(d, bytes.size() + 1));
  auto back = archive.open(d);
  ASSERT_TRUE(back);
  char buf[64];
  EXPECT_EQ(std::string(buf, (*back)->read(buf, sizeof buf).value()), bytes);
  EXPECT_EQ(archive.open(digest_of("absent")).error_value().code, errc::blob_unknown);
}

class blob_backup_test : public testing_support::registry_fixture {};

TEST_F(blob_backup_test, copies_what_the_snapshot_records_once) {
  push_blob("r", "one");
  push_blob("r", "two");
  testing_support::temp_dir dest;
  storage::blob_archive archive(dest.path());
  std::vector<work_progress> seen;
  auto first = copy_recorded_blobs(meta->maintenance(), open_from(*blobs), archive,
                                   [&](const work_progress& p) { seen.push_back(p); });
  EXPECT_TRUE(first.problems.empty());
  EXPECT_EQ(first.blobs, 2u);
  EXPECT_EQ(first.blobs_copied, 2u);
  EXPECT_EQ(first.bytes, 6u);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().items_total, 2u);
  EXPECT_EQ(seen.front().bytes_total, 6u);
  EXPECT_EQ(seen.back().items_done, 2u);
  EXPECT_EQ(seen.back().bytes_done, 6u);
  push_blob("r", "three");
  auto second = copy_recorded_blobs(meta->maintenance(), open_from(*blobs), archive);
  EXPECT_EQ(second.blobs, 3u);
  EXPECT_EQ(second.blobs_copied, 1u);
  EXPECT_EQ(second.bytes_copied, 5u);
  // A blob the store no longer has is named, for the caller to judge (collected, or lost).
  std::filesystem::remove(blob_path(digest_of("two")));
  testing_support::temp_dir other;
  storage::blob_archive fresh(other.path());
  auto broken = copy_recorded_blobs(meta->maintenance(), open_from(*blobs), fresh);
  EXPECT_TRUE(broken.problems.empty());
  EXPECT_EQ(broken.vanished, (std::vector<std::string>{digest_of("two").str()}));
  EXPECT_EQ(broken.blobs_copied, 2u);
}

TEST(progress_meter, says_what_is_done_how_fast_and_what_is_left) {
  using cli::progress_meter;
  EXPECT_EQ(progress_meter::line("backup", "blobs", 0, 10, 0, 4096, 0), "backup: 0/10 blobs, 0 B of 4.0 KiB");
  EXPECT_EQ(progress_meter::line("backup", "blobs", 5, 10, 1048576, 3145728, 2),
            "backup: 5/10 blobs, 1.0 MiB of 3.0 MiB, 512.0 KiB/s, 4 s left");
  EXPECT_EQ(progress_meter::line("restore", "blobs", 1, 9, 1048576, 1048576ull * 1000, 1),
            "restore: 1/9 blobs, 1.0 MiB of 1000.0 MiB, 1.0 MiB/s, 16 min left");
  EXPECT_EQ(progress_meter::line("fsck", "blobs", 10, 10, 100, 100, 5), "fsck: 10/10 blobs, 100 B of 100 B, 20 B/s");
}

}  // namespace
