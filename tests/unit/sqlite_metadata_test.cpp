// The metadata suite on SQLite, and the SQLite-only parts (the connection pool).
#include "berth/meta/sqlite_metadata.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
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

}  // namespace berth::testing_support
