// The ECR adapter driven without sockets (authentication off; SigV4 has its own tests).
#include "berth/ecr/ecr_api.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../common/registry_fixture.hpp"

using namespace berth;
using json = nlohmann::json;

namespace {

class ecr_api_test : public testing_support::registry_fixture {
 protected:
  void SetUp() override {
    create_on_push = false;  // the ECR API creates its repositories explicitly
    registry_fixture::SetUp();
    ecr::ecr_settings s;
    s.auth_enabled = false;
    s.public_host = "registry.test:5000";
    api = std::make_unique<ecr::ecr_api>(*reg, *lifecycle, creds, tokens, urls, clk, s);
  }

  std::pair<unsigned, json> call(const std::string& op, const std::string& body) {
    http::request req;
    req.method = http::verb::post;
    req.path = "/";
    req.headers.add("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921." + op);
    req.headers.add("Content-Type", "application/x-amz-json-1.1");
    req.body = body;
    auto r = api->handle(req);
    EXPECT_TRUE(r.headers.find("x-amzn-RequestId").has_value());
    auto j = json::parse(r.body, nullptr, false);
    if (r.status != 200) {
      EXPECT_EQ(r.headers.find("X-Amzn-ErrorType").value_or(""), j.value("__type", "?"));
    }
    return {r.status, j};
  }
  std::string error_type(const std::string& op, const std::string& body) {
    auto [status, j] = call(op, body);
    EXPECT_NE(status, 200u) << j.dump();
    return j.value("__type", "");
  }

  auth::credential_store creds{"000000000000", {}};
  auth::login_token_issuer tokens{std::string(32, 'k'), creds};
  auth::blob_url_signer urls{std::string(32, 'k')};
  std::unique_ptr<ecr::ecr_api> api;
};

}  // namespace

TEST_F(ecr_api_test, create_and_describe_repository_shapes) {
  auto [status, j] = call("CreateRepository", R"({"repositoryName":"team/app","imageTagMutability":"IMMUTABLE",
      "imageScanningConfiguration":{"scanOnPush":true},"tags":[{"Key":"env","Value":"prod"}]})");
  ASSERT_EQ(status, 200u) << j.dump();
  auto repo = j["repository"];
  EXPECT_EQ(repo["repositoryArn"], "arn:aws:ecr:us-east-1:000000000000:repository/team/app");
  EXPECT_EQ(repo["repositoryUri"], "registry.test:5000/team/app");
  EXPECT_EQ(repo["registryId"], "000000000000");
  EXPECT_TRUE(repo["createdAt"].is_number());
  EXPECT_EQ(repo["imageTagMutability"], "IMMUTABLE");
  EXPECT_EQ(repo["imageScanningConfiguration"]["scanOnPush"], true);
  EXPECT_EQ(error_type("CreateRepository", R"({"repositoryName":"team/app"})"), "RepositoryAlreadyExistsException");
  auto [s2, tags] =
      call("ListTagsForResource", R"({"resourceArn":"arn:aws:ecr:us-east-1:000000000000:repository/team/app"})");
  EXPECT_EQ(tags["tags"], json::parse(R"([{"Key":"env","Value":"prod"}])"));
  auto [s3, missing] = call("DescribeRepositories", R"({"repositoryNames":["nope"]})");
  EXPECT_EQ(missing["__type"], "RepositoryNotFoundException");
  EXPECT_EQ(missing["message"],
            "The repository with name 'nope' does not exist in the registry with id '000000000000'");
}

TEST_F(ecr_api_test, model_validation_in_ecr_wording) {
  auto [s, j] = call("CreateRepository", R"({"repositoryName":"Bad_Name"})");
  EXPECT_EQ(s, 400u);
  EXPECT_EQ(j["__type"], "InvalidParameterException");
  EXPECT_TRUE(j["message"].get<std::string>().starts_with(
      "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression"));
  auto [s2, j2] = call("CreateRepository", R"({"repositoryName":"a"})");
  EXPECT_EQ(j2["message"],
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length "
            "greater than or equal to 2'");
  EXPECT_EQ(error_type("DescribeRepositories", R"({"maxResults":5000})"), "InvalidParameterException");
  EXPECT_EQ(error_type("CreateRepository", R"({"repositoryName":"ok","imageTagMutability":"SOMETIMES"})"),
            "InvalidParameterException");
  EXPECT_EQ(error_type("CreateRepository", R"({})"), "InvalidParameterException");
  EXPECT_EQ(error_type("CreateRepository", R"({"repositoryName":5})"), "SerializationException");
  EXPECT_EQ(error_type("CreateRepository", "not json"), "SerializationException");
  EXPECT_EQ(
      error_type("CreateRepository", R"({"repositoryName":"ok","imageTagMutability":"IMMUTABLE_WITH_EXCLUSION"})"),
      "InvalidParameterException");
  EXPECT_EQ(error_type("NoSuchThing", "{}"), "UnknownOperationException");
  EXPECT_EQ(error_type("SetRepositoryPolicy", R"({"repositoryName":"ok","policyText":"{}"})"),
            "UnsupportedOperationException");
}

TEST_F(ecr_api_test, pagination_over_pages) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_EQ(call("CreateRepository", R"({"repositoryName":"r)" + std::to_string(100 + i) + R"("})").first, 200u);
  }
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    json in = {{"maxResults", 10}};
    if (!token.empty()) in["nextToken"] = token;
    auto [s, j] = call("DescribeRepositories", in.dump());
    ASSERT_EQ(s, 200u);
    for (const auto& r : j["repositories"]) seen.push_back(r["repositoryName"]);
    if (!j.contains("nextToken")) break;
    token = j["nextToken"];
  }
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(error_type("DescribeRepositories", R"({"nextToken":"garbage!"})"), "InvalidParameterException");
}

TEST_F(ecr_api_test, layer_upload_put_image_and_batch_calls) {
  ASSERT_EQ(call("CreateRepository", R"({"repositoryName":"app"})").first, 200u);
  auto [s, init] = call("InitiateLayerUpload", R"({"repositoryName":"app"})");
  ASSERT_EQ(s, 200u);
  std::string id = init["uploadId"];
  EXPECT_TRUE(init["partSize"].is_number());
  // "hello" + " world" in two parts; the first is under 5 MiB, so completion must refuse.
  auto part = [&](int first, const std::string& b64, int len) {
    return call("UploadLayerPart", json{{"repositoryName", "app"},
                                        {"uploadId", id},
                                        {"partFirstByte", first},
                                        {"partLastByte", first + len - 1},
                                        {"layerPartBlob", b64}}
                                       .dump());
  };
  ASSERT_EQ(part(0, "aGVsbG8=", 5).first, 200u);
  auto [bad_status, bad] = part(0, "aGVsbG8=", 5);
  EXPECT_EQ(bad["__type"], "InvalidLayerPartException");
  EXPECT_EQ(bad["lastValidByteReceived"], 4);
  EXPECT_EQ(bad["uploadId"], id);
  auto [ok_status, ok] = part(5, "IHdvcmxk", 6);
  ASSERT_EQ(ok_status, 200u) << ok.dump();
  EXPECT_EQ(ok["lastByteReceived"], 10);
  auto d = digest_of("hello world").str();
  auto complete = json{{"repositoryName", "app"}, {"uploadId", id}, {"layerDigests", {d}}}.dump();
  EXPECT_EQ(error_type("CompleteLayerUpload", complete), "LayerPartTooSmallException");

  // One part is fine whatever its size.
  auto [s2, init2] = call("InitiateLayerUpload", R"({"repositoryName":"app"})");
  id = init2["uploadId"];
  ASSERT_EQ(part(0, "aGVsbG8gd29ybGQ=", 11).first, 200u);
  EXPECT_EQ(error_type(
                "CompleteLayerUpload",
                json{{"repositoryName", "app"}, {"uploadId", id}, {"layerDigests", {digest_of("other").str()}}}.dump()),
            "InvalidLayerException");
  auto [s3, init3] = call("InitiateLayerUpload", R"({"repositoryName":"app"})");
  id = init3["uploadId"];
  EXPECT_EQ(error_type("CompleteLayerUpload",
                       json{{"repositoryName", "app"}, {"uploadId", id}, {"layerDigests", {d}}}.dump()),
            "EmptyUploadException");
  ASSERT_EQ(part(0, "aGVsbG8gd29ybGQ=", 11).first, 200u);
  auto [s4, done] =
      call("CompleteLayerUpload", json{{"repositoryName", "app"}, {"uploadId", id}, {"layerDigests", {d}}}.dump());
  ASSERT_EQ(s4, 200u) << done.dump();
  EXPECT_EQ(done["layerDigest"], d);
  EXPECT_EQ(error_type("CompleteLayerUpload",
                       json{{"repositoryName", "app"}, {"uploadId", id}, {"layerDigests", {d}}}.dump()),
            "UploadNotFoundException");

  auto [s5, avail] = call("BatchCheckLayerAvailability",
                          json{{"repositoryName", "app"}, {"layerDigests", {d, digest_of("x").str()}}}.dump());
  EXPECT_EQ(avail["layers"][0]["layerAvailability"], "AVAILABLE");
  EXPECT_EQ(avail["layers"][0]["layerSize"], 11);
  EXPECT_EQ(avail["failures"][0]["failureCode"], "MissingLayerDigest");

  // The config and layer are the same blob here; enough for a manifest that references both.
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      d + R"(","size":11},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + d +
      R"(","size":11}]})";
  auto put = json{{"repositoryName", "app"}, {"imageManifest", manifest}, {"imageTag", "v1"}}.dump();
  auto [s6, img] = call("PutImage", put);
  ASSERT_EQ(s6, 200u) << img.dump();
  EXPECT_EQ(img["image"]["imageId"]["imageDigest"], digest_of(manifest).str());
  EXPECT_EQ(error_type("PutImage", put), "ImageAlreadyExistsException");
  EXPECT_EQ(error_type("PutImage", json{{"repositoryName", "app"},
                                        {"imageManifest", manifest},
                                        {"imageTag", "v2"},
                                        {"imageDigest", digest_of("nope").str()}}
                                       .dump()),
            "ImageDigestDoesNotMatchException");
  std::string missing =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":")" +
      digest_of("absent").str() + R"(","size":1},"layers":[]})";
  EXPECT_EQ(
      error_type("PutImage", json{{"repositoryName", "app"}, {"imageManifest", missing}, {"imageTag", "v3"}}.dump()),
      "LayersNotFoundException");

  auto [s7, details] = call("DescribeImages", R"({"repositoryName":"app"})");
  ASSERT_EQ(details["imageDetails"].size(), 1u);
  EXPECT_EQ(details["imageDetails"][0]["imageSizeInBytes"], 11);
  EXPECT_EQ(details["imageDetails"][0]["imageTags"], json::array({"v1"}));
  EXPECT_EQ(details["imageDetails"][0]["artifactMediaType"], "application/vnd.oci.image.config.v1+json");

  auto [s8, got] =
      call("BatchGetImage", R"({"repositoryName":"app","imageIds":[{"imageTag":"v1"},{"imageTag":"zz"}]})");
  EXPECT_EQ(got["images"][0]["imageManifest"], manifest);
  EXPECT_EQ(got["failures"][0]["failureCode"], "ImageNotFound");

  auto [s9, url] = call("GetDownloadUrlForLayer", json{{"repositoryName", "app"}, {"layerDigest", d}}.dump());
  EXPECT_TRUE(url["downloadUrl"].get<std::string>().starts_with("http://registry.test:5000/v2/app/blobs/" + d + "?"));

  auto [s10, del] =
      call("BatchDeleteImage", R"({"repositoryName":"app","imageIds":[{"imageTag":"v1"},{"imageTag":"v1"}]})");
  EXPECT_EQ(del["imageIds"].size(), 1u);
  EXPECT_EQ(del["failures"][0]["failureCode"], "ImageNotFound");
  EXPECT_EQ(error_type("DeleteRepository", R"({"repositoryName":"nope"})"), "RepositoryNotFoundException");
}
