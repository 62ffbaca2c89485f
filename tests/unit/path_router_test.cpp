#include "berth/oci/path_router.hpp"

#include <gtest/gtest.h>

using namespace berth::oci;

TEST(path_router, endpoints) {
  EXPECT_EQ(parse_v2_path("/v2/").endpoint, v2_endpoint::base);
  EXPECT_EQ(parse_v2_path("/v2").endpoint, v2_endpoint::base);
  EXPECT_EQ(parse_v2_path("/v2/_catalog").endpoint, v2_endpoint::catalog);
  auto t = parse_v2_path("/v2/a/b/tags/list");
  EXPECT_EQ(t.endpoint, v2_endpoint::tags_list);
  EXPECT_EQ(t.name, "a/b");
  auto m = parse_v2_path("/v2/mycompany/myproj/image-one/manifests/latest");
  EXPECT_EQ(m.endpoint, v2_endpoint::manifest);
  EXPECT_EQ(m.name, "mycompany/myproj/image-one");
  EXPECT_EQ(m.arg, "latest");
  EXPECT_TRUE(m.name_valid);
  auto b = parse_v2_path("/v2/x/blobs/sha256:abc");
  EXPECT_EQ(b.endpoint, v2_endpoint::blob);
  EXPECT_EQ(b.arg, "sha256:abc");
  EXPECT_EQ(parse_v2_path("/v2/x/blobs/uploads/").endpoint, v2_endpoint::upload_start);
  EXPECT_EQ(parse_v2_path("/v2/x/blobs/uploads").endpoint, v2_endpoint::upload_start);
  auto u = parse_v2_path("/v2/x/y/blobs/uploads/1234");
  EXPECT_EQ(u.endpoint, v2_endpoint::upload);
  EXPECT_EQ(u.name, "x/y");
  EXPECT_EQ(u.arg, "1234");
  auto r = parse_v2_path("/v2/x/referrers/sha256:abc");
  EXPECT_EQ(r.endpoint, v2_endpoint::referrers);
}

TEST(path_router, names_that_look_like_endpoints) {
  auto m = parse_v2_path("/v2/blobs/manifests/manifests/v1");
  EXPECT_EQ(m.endpoint, v2_endpoint::manifest);
  EXPECT_EQ(m.name, "blobs/manifests");
  auto b = parse_v2_path("/v2/tags/blobs/uploads/blobs/sha256:1");
  EXPECT_EQ(b.endpoint, v2_endpoint::blob);
  EXPECT_EQ(b.name, "tags/blobs/uploads");
}

TEST(path_router, hostile_paths) {
  EXPECT_EQ(parse_v2_path("/v3/x/tags/list").endpoint, v2_endpoint::not_found);
  EXPECT_EQ(parse_v2_path("/v2/x").endpoint, v2_endpoint::not_found);
  EXPECT_EQ(parse_v2_path("/v2/x/manifests/").endpoint, v2_endpoint::not_found);
  EXPECT_FALSE(parse_v2_path("/v2/../etc/manifests/latest").name_valid);
  EXPECT_FALSE(parse_v2_path("/v2/%2e%2e/manifests/latest").name_valid);
  EXPECT_FALSE(parse_v2_path("/v2/a%2fb/manifests/latest").name_valid);
  EXPECT_FALSE(parse_v2_path("/v2/a//b/manifests/latest").name_valid);
  EXPECT_FALSE(parse_v2_path("/v2//manifests/latest").name_valid);
  EXPECT_FALSE(parse_v2_path(std::string("/v2/a\0b/manifests/latest", 25)).name_valid);
}
