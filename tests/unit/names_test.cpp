#include "berth/core/names.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace berth;

TEST(repository_name, accepts_spec_examples) {
  for (auto good : {"a", "library/ubuntu", "mycompany/myproj/image-one", "a.b_c__d---e/f0", "0", "foo/bar/baz/qux",
                    "a-b", "a--b"}) {
    EXPECT_TRUE(is_valid_repository_name(good)) << good;
  }
}

TEST(repository_name, rejects_everything_else) {
  for (const std::string& bad : std::vector<std::string>{"",
                                                         "A",
                                                         "Library/ubuntu",
                                                         "a//b",
                                                         "/a",
                                                         "a/",
                                                         "..",
                                                         "a/../b",
                                                         "a/./b",
                                                         "%2e%2e",
                                                         "a..b",
                                                         "a___b",
                                                         "-a",
                                                         "a-",
                                                         "a_",
                                                         ".a",
                                                         "a b",
                                                         "a:b",
                                                         std::string("a\0b", 3),
                                                         "a/b/",
                                                         "a?b",
                                                         "a%2fb"}) {
    EXPECT_FALSE(is_valid_repository_name(bad)) << bad;
  }
  EXPECT_TRUE(is_valid_repository_name(std::string(255, 'a')));
  EXPECT_FALSE(is_valid_repository_name(std::string(256, 'a')));
}

TEST(tag, grammar) {
  EXPECT_TRUE(is_valid_tag("latest"));
  EXPECT_TRUE(is_valid_tag("_x"));
  EXPECT_TRUE(is_valid_tag("V1.2-rc_3"));
  EXPECT_TRUE(is_valid_tag(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_tag(std::string(129, 'a')));
  EXPECT_FALSE(is_valid_tag(""));
  EXPECT_FALSE(is_valid_tag(".INVALID_MANIFEST_NAME"));
  EXPECT_FALSE(is_valid_tag("-a"));
  EXPECT_FALSE(is_valid_tag("a/b"));
  EXPECT_FALSE(is_valid_tag("a:b"));
}

TEST(upload_id, generated_ids_validate_and_differ) {
  auto a = new_upload_id();
  auto b = new_upload_id();
  EXPECT_TRUE(is_valid_upload_id(a));
  EXPECT_NE(a, b);
  EXPECT_FALSE(is_valid_upload_id("../../etc/passwd"));
  EXPECT_FALSE(is_valid_upload_id(std::string(36, 'a')));
  EXPECT_FALSE(is_valid_upload_id("ABCDEF01-2345-4789-8abc-def012345678"));
}

TEST(reference, tag_or_digest) {
  auto t = parse_reference("v1");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::get<std::string>(*t), "v1");
  auto d = parse_reference("sha256:" + std::string(64, 'b'));
  ASSERT_TRUE(d);
  EXPECT_TRUE(std::holds_alternative<digest>(*d));
  auto bad = parse_reference("sha256:xyz");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error_value().code, errc::digest_invalid);
  auto badtag = parse_reference("-x");
  ASSERT_FALSE(badtag);
  EXPECT_EQ(badtag.error_value().code, errc::tag_invalid);
}
