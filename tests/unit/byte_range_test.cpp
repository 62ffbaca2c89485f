#include "berth/core/byte_range.hpp"

#include <gtest/gtest.h>

using namespace berth;

namespace {
std::optional<byte_range> ok(std::string_view h, std::uint64_t size) {
  auto r = parse_range_header(h, size);
  EXPECT_TRUE(r) << h;
  return r ? *r : std::nullopt;
}
bool unsatisfiable(std::string_view h, std::uint64_t size) {
  auto r = parse_range_header(h, size);
  return !r && r.error_value().code == errc::range_invalid;
}
}  // namespace

TEST(range_header, conformance_cases_on_2048_bytes) {
  EXPECT_EQ(ok("bytes=500-1499", 2048), (byte_range{500, 1499}));
  EXPECT_EQ(ok("bytes=500-", 2048), (byte_range{500, 2047}));
  EXPECT_EQ(ok("bytes=-500", 2048), (byte_range{1548, 2047}));
  EXPECT_EQ(ok("bytes=2000-5000", 2048), (byte_range{2000, 2047}));
  EXPECT_EQ(ok("bytes=0-0", 2048), (byte_range{0, 0}));
  EXPECT_EQ(ok("bytes=-5000", 2048), (byte_range{0, 2047}));
  EXPECT_TRUE(unsatisfiable("bytes=500-0", 2048));
  EXPECT_TRUE(unsatisfiable("bytes=5000-10000", 2048));
  EXPECT_TRUE(unsatisfiable("bytes=2048-", 2048));
  EXPECT_TRUE(unsatisfiable("bytes=-0", 2048));
  EXPECT_TRUE(unsatisfiable("bytes=0-", 0));
}

TEST(range_header, unusable_ranges_mean_whole_body) {
  for (auto h :
       {"", "items=0-1", "bytes=a-b", "bytes=0-1,3-4", "bytes=", "bytes=--1", "0-10", "bytes=99999999999999999999-"}) {
    EXPECT_EQ(ok(h, 100), std::nullopt) << h;
  }
}

TEST(content_range, forms_clients_send) {
  EXPECT_EQ(parse_content_range("0-99"), (byte_range{0, 99}));
  EXPECT_EQ(parse_content_range("bytes 100-199/*"), (byte_range{100, 199}));
  EXPECT_EQ(parse_content_range("bytes=5-5"), (byte_range{5, 5}));
  EXPECT_EQ(parse_content_range("100-99"), std::nullopt);
  EXPECT_EQ(parse_content_range("abc"), std::nullopt);
  EXPECT_EQ(parse_content_range("-5"), std::nullopt);
  EXPECT_EQ(parse_content_range(""), std::nullopt);
}
