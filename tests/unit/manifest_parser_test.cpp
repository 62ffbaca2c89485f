#include "berth/registry/manifest.hpp"

#include <gtest/gtest.h>

using namespace berth;

namespace {
const std::string d1 = "sha256:" + std::string(64, '1');
const std::string d2 = "sha256:" + std::string(64, '2');
const std::string d3 = "sha256:" + std::string(64, '3');

std::string oci_image(const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         d1 + R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + d2 +
         R"(","size":10}])" + extra + "}";
}
}  // namespace

TEST(manifest_parser, oci_image_manifest) {
  auto m = parse_manifest(oci_image(), "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(m) << m.error_value().message;
  EXPECT_EQ(m->kind, manifest_kind::image);
  EXPECT_EQ(m->config->dgst.str(), d1);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 10);
  EXPECT_EQ(m->artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_FALSE(m->subject);
}

TEST(manifest_parser, content_type_parameters_and_absent_type) {
  EXPECT_TRUE(parse_manifest(oci_image(), "application/vnd.oci.image.manifest.v1+json; charset=utf-8"));
  auto m = parse_manifest(oci_image(), "");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->media_type, media_type::oci_manifest);
}

TEST(manifest_parser, artifact_with_subject_and_annotations) {
  auto m = parse_manifest(
      oci_image(
          R"(,"artifactType":"application/x.sig","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
          d3 + R"(","size":100},"annotations":{"a":"b"})"),
      "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(m) << m.error_value().message;
  EXPECT_EQ(m->artifact_type, "application/x.sig");
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(m->subject->dgst.str(), d3);
  EXPECT_EQ(m->annotations_json, R"({"a":"b"})");
}

TEST(manifest_parser, index_and_docker_list) {
  std::string idx =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      d1 + R"(","size":5,"platform":{"architecture":"amd64","os":"linux"}}]})";
  auto m = parse_manifest(idx, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, manifest_kind::index);
  ASSERT_EQ(m->manifests.size(), 1u);
  std::string empty = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})";
  EXPECT_TRUE(parse_manifest(empty, "application/vnd.oci.image.index.v1+json"));
  std::string list =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]})";
  auto l = parse_manifest(list, "application/vnd.docker.distribution.manifest.list.v2+json");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kind, manifest_kind::index);
}

TEST(manifest_parser, non_distributable_layers) {
  auto m = parse_manifest(
      oci_image().replace(oci_image().find(R"("size":10)"), 9, R"("size":10,"urls":["https://example.invalid/l"])"),
      "");
  ASSERT_TRUE(m) << m.error_value().message;
  EXPECT_TRUE(m->layers[0].has_urls);
}

TEST(manifest_parser, rejections) {
  auto invalid = [](std::string body, std::string type) {
    auto m = parse_manifest(body, type);
    return !m && m.error_value().code == errc::manifest_invalid;
  };
  EXPECT_TRUE(invalid("not json", ""));
  EXPECT_TRUE(invalid("[]", ""));
  EXPECT_TRUE(invalid(oci_image(), "application/vnd.oci.image.index.v1+json"));  // type mismatch
  EXPECT_TRUE(invalid(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})",
                      "application/vnd.docker.distribution.manifest.v1+prettyjws"));
  EXPECT_TRUE(invalid(R"({"schemaVersion":1,"name":"x"})", ""));
  EXPECT_TRUE(invalid(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})", ""));
  EXPECT_TRUE(invalid(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:bad","size":1}})",
      ""));
  EXPECT_TRUE(invalid(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":")" +
          d1 + R"(","size":-1}})",
      ""));
  EXPECT_TRUE(invalid(R"({"schemaVersion":2,"mediaType":"text/plain","config":{}})", "text/plain"));
  EXPECT_TRUE(invalid(std::string("{\"schemaVersion\":2,\"annotations\":{\"a\":\"\xff\"}}"), ""));
  std::string deep(100000, '[');
  EXPECT_TRUE(invalid(deep, ""));
  auto big = parse_manifest(std::string(max_manifest_size + 1, ' '), "");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error_value().code, errc::manifest_too_large);
}
