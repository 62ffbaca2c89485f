// The metadata suite on SQLite, and the SQLite-only parts (the connection pool).
#include "berth/meta/sqlite_metadata.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "../../src/meta/sql_roles.hpp"
#include "../common/temp_dir.hpp"
#include "berth/meta/migrations.hpp"
#include "berth/meta/sqlite_connection.hpp"
#include "metadata_suite.hpp"

namespace berth::testing_support {
namespace {

struct sqlite_backend {
  std::unique_ptr<meta::metadata_store> open() {
    auto m = meta::open_sqlite_metadata(dir.path() / "berth.db");
    EXPECT_TRUE(m) << m.error_value().message;
    return m ? std::move(m).value() : nullptr;
  }
  temp_dir dir;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(sqlite, metadata_suite, sqlite_backend);

// A burst of concurrent reads leaves one reader connection per concurrent lease; idle, the pool
// keeps only a few of them (each holds a page cache), and reads keep working afterwards.
TEST(connection_pool_test, idle_readers_are_closed_down_to_the_number_kept) {
  temp_dir dir;
  auto pool = meta::connection_pool::open((dir.path() / "pool.db").string());
  ASSERT_TRUE(pool);
  {
    std::vector<meta::connection_pool::lease> held;
    for (int i = 0; i < 6; ++i) {
      auto l = (*pool)->reader();
      ASSERT_TRUE(l);
      held.push_back(std::move(l).value());
    }
  }
  EXPECT_EQ((*pool)->idle_readers(), 6u);
  (*pool)->close_idle_readers(2);
  EXPECT_EQ((*pool)->idle_readers(), 2u);
  for (int i = 0; i < 3; ++i) {
    auto l = (*pool)->reader();
    ASSERT_TRUE(l);
  }
}

// A write that fails part-way leaves nothing behind: the helper rolls the transaction back.
TEST(connection_pool_test, a_failed_write_rolls_back) {
  temp_dir dir;
  auto pool = meta::connection_pool::open((dir.path() / "pool.db").string());
  ASSERT_TRUE(pool);
  ASSERT_TRUE((*pool)->write([](meta::sqlite_connection& db) -> result<void> {
    if (auto r = db.exec("CREATE TABLE t(v INTEGER)"); !r) return r;
    return {};
  }));
  auto failed = (*pool)->write([](meta::sqlite_connection& db) -> result<void> {
    if (auto r = db.run("INSERT INTO t(v) VALUES(?)", 1); !r) return r.take_error();
    return make_error(errc::internal, "stop here");
  });
  EXPECT_FALSE(failed);
  auto count =
      (*pool)->read([](meta::sqlite_connection& db) { return db.one("SELECT COUNT(*) FROM t", meta::int_column); });
  ASSERT_TRUE(count);
  EXPECT_EQ(**count, 0);
}

// Under readers that never stop, a passive checkpoint never rewinds the log. Without the
// background checkpointer's rewinds the WAL of these 600 commits (~6 frames each) would grow to
// ~14 MiB; with them it stays near its rewind bound, and every commit stays readable.
TEST(connection_pool_test, the_wal_is_rewound_under_readers_that_never_stop) {
  temp_dir dir;
  auto path = (dir.path() / "pool.db").string();
  meta::wal_policy policy{.passive_frames = 50, .rewind_frames = 200, .interval = std::chrono::milliseconds(20)};
  auto pool = meta::connection_pool::open(path, policy);
  ASSERT_TRUE(pool);
  ASSERT_TRUE((*pool)->write([](meta::sqlite_connection& db) { return db.exec("CREATE TABLE t(v BLOB)"); }));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!done) {
        auto n = (*pool)->read(
            [](meta::sqlite_connection& db) { return db.one("SELECT COUNT(*) FROM t", meta::int_column); });
        if (n) ++reads;
      }
    });
  }
  std::uintmax_t largest = 0;
  std::string row(20000, 'x');
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE((*pool)->write([&](meta::sqlite_connection& db) -> result<void> {
      if (auto r = db.run("INSERT INTO t(v) VALUES(?)", meta::as_blob(row)); !r) return r.take_error();
      return {};
    }));
    std::error_code ec;
    auto size = std::filesystem::file_size(path + "-wal", ec);
    if (!ec) largest = std::max(largest, size);
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT((*pool)->wal_checkpoints().rewinds, 0u);
  // 200 frames of 4 KiB is 0.8 MiB; the commits of a few ticks may come on top before a rewind.
  EXPECT_LT(largest, 4u << 20) << "largest WAL " << largest << " bytes";
  auto count =
      (*pool)->read([](meta::sqlite_connection& db) { return db.one("SELECT COUNT(*) FROM t", meta::int_column); });
  ASSERT_TRUE(count);
  EXPECT_EQ(**count, 600);
}

// Garbage collection looks blobs up by digest alone, across repositories. Without an index that
// starts with the digest, each of those lookups scanned every reference and every link, so a
// collection cost blobs x (references + links) row visits, and held the writer for the
// begin_delete of each blob: the soak's throughput fell as the registry grew. With the indexes the
// statements of a collection step through no table in full.
TEST(connection_pool_test, collecting_garbage_scans_no_table_in_full) {
  temp_dir dir;
  auto opened = meta::connection_pool::open((dir.path() / "berth.db").string());
  ASSERT_TRUE(opened);
  auto& pool = **opened;
  {
    auto lock = pool.lock_writer();
    ASSERT_TRUE(meta::migrate(pool.writer()));
  }
  meta::sql_metadata<meta::connection_pool> store(std::move(opened).value());
  for (const char* repo : {"a", "b"}) ASSERT_TRUE(store.repositories().create(repo, {}, {}, 1));
  constexpr int images = 150;
  for (int i = 0; i < images; ++i) {
    std::string repo = i % 2 ? "a" : "b";
    std::vector<std::string> blobs;
    for (const char* kind : {"config", "layer"}) {
      blobs.push_back("sha256:" + std::string(kind) + std::to_string(i));
      ASSERT_TRUE(store.blobs().record(meta::blob_record{repo, blobs.back(), 10, 1, ""}));
    }
    // Every third image is not written: its two blobs are garbage.
    if (i % 3 == 0) continue;
    meta::manifest_write w;
    w.repository = repo;
    w.digest = "sha256:manifest" + std::to_string(i);
    w.media_type = "application/vnd.oci.image.manifest.v1+json";
    w.content = "{}";
    w.pushed_at = 1;
    w.blob_refs = blobs;
    ASSERT_TRUE(store.images().put_manifest(w));
  }
  pool.full_scan_steps(true);
  auto& maintenance = store.maintenance();
  auto candidates = maintenance.unreferenced_blobs(5, "", 1000);
  ASSERT_TRUE(candidates);
  EXPECT_EQ(candidates->size(), 2u * (images / 3));
  for (const auto& b : *candidates) {
    auto marked = maintenance.begin_delete(b.digest, 5, meta::deletion_claim{"gc", 10, 100});
    ASSERT_TRUE(marked);
    EXPECT_TRUE(*marked) << b.digest;
    ASSERT_TRUE(maintenance.finish_delete(b.digest, "gc"));
  }
  auto left = maintenance.unreferenced_blobs(5, "", 1000);
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  // A scan of the references or links for each of the 100 candidates would be ~30,000 steps.
  EXPECT_LT(pool.full_scan_steps(false), images);
}

}  // namespace berth::testing_support
