#include "berth/core/utc_time.hpp"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(utc_time, iso8601_to_the_second_in_utc) {
  EXPECT_EQ(utc_iso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_iso8601(1796691900), "2026-12-08T01:05:00Z");
  EXPECT_EQ(utc_iso8601(951782400), "2000-02-29T00:00:00Z");  // a leap day
}

}  // namespace
}  // namespace berth
