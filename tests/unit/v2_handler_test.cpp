// The V2 adapter driven without sockets: request values in, response values out.
#include "berth/oci/v2_handler.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "../common/registry_fixture.hpp"

using namespace berth;

namespace {

class v2_handler_test : public testing_support::registry_fixture {
 protected:
  void SetUp() override {
    registry_fixture::SetUp();
    handler = std::make_unique<oci::v2_handler>(*reg);
  }

  http::response call(http::verb method, const std::string& target, const std::string& body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::request req;
    req.method = method;
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    for (auto& [k, v] : headers) req.headers.add(k, v);
    if (!body.empty()) req.content_length = body.size();
    auto ex = handler->route(req);
    switch (ex->mode()) {
      case http::body_mode::none: return ex->finish(req);
      case http::body_mode::buffered:
        if (body.size() > ex->body_limit()) return ex->too_large();
        req.body = body;
        return ex->finish(req);
      case http::body_mode::stream: {
        if (auto early = ex->start(req)) return *early;
        // Small pieces, as a socket delivers them (larger ones for large bodies).
        const std::size_t piece = body.size() > 65536 ? 65536 : 3;
        for (std::size_t i = 0; i < body.size(); i += piece) {
          if (auto stop = ex->consume(body.data() + i, std::min<std::size_t>(piece, body.size() - i))) return *stop;
        }
        return ex->finish(req);
      }
    }
    return {};
  }

  static std::string code(const http::response& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("errors")) return "";
    return j["errors"][0]["code"].get<std::string>();
  }
  static std::string header(const http::response& r, std::string_view name) {
    return std::string(r.headers.find(name).value_or(""));
  }

  std::string push_blob_over_http(const std::string& repo, const std::string& bytes) {
    auto d = digest_of(bytes).str();
    auto r = call(http::verb::post, "/v2/" + repo + "/blobs/uploads/?digest=" + d, bytes);
    EXPECT_EQ(r.status, 201u);
    return d;
  }

  std::unique_ptr<oci::v2_handler> handler;
};

}  // namespace

TEST_F(v2_handler_test, base_and_version_header_everywhere) {
  auto r = call(http::verb::get, "/v2/");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(header(r, "Docker-Distribution-API-Version"), "registry/2.0");
  auto e = call(http::verb::get, "/v2/x/manifests/nope");
  EXPECT_EQ(e.status, 404u);
  EXPECT_EQ(code(e), "NAME_UNKNOWN");  // no such repository
  EXPECT_NE(e.body.find("The repository with name 'x' does not exist in the registry with id '000000000000'"),
            std::string::npos);
  push_blob_over_http("x", "created");
  EXPECT_EQ(code(call(http::verb::get, "/v2/x/manifests/nope")), "MANIFEST_UNKNOWN");
  EXPECT_EQ(header(e, "Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(v2_handler_test, chunked_upload_protocol) {
  auto start = call(http::verb::post, "/v2/a/b/blobs/uploads/");
  ASSERT_EQ(start.status, 202u);
  auto location = header(start, "Location");
  auto id = header(start, "Docker-Upload-UUID");
  EXPECT_EQ(location, "/v2/a/b/blobs/uploads/" + id);
  EXPECT_EQ(header(start, "Range"), "0-0");

  auto p1 = call(http::verb::patch, location, "0123456789", {{"Content-Range", "0-9"}});
  ASSERT_EQ(p1.status, 202u);
  EXPECT_EQ(header(p1, "Range"), "0-9");
  auto again = call(http::verb::patch, location, "0123456789", {{"Content-Range", "0-9"}});
  EXPECT_EQ(again.status, 416u);
  EXPECT_EQ(code(again), "BLOB_UPLOAD_INVALID");
  EXPECT_EQ(header(again, "Range"), "0-9");
  auto status = call(http::verb::get, location);
  EXPECT_EQ(status.status, 204u);
  EXPECT_EQ(header(status, "Range"), "0-9");

  auto d = digest_of("0123456789abc").str();
  auto put = call(http::verb::put, location + "?digest=" + d, "abc");
  ASSERT_EQ(put.status, 201u);
  EXPECT_EQ(header(put, "Location"), "/v2/a/b/blobs/" + d);
  EXPECT_EQ(header(put, "Docker-Content-Digest"), d);

  auto head = call(http::verb::head, "/v2/a/b/blobs/" + d);
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.head_length, std::optional<std::uint64_t>(13));
  auto get = call(http::verb::get, "/v2/a/b/blobs/" + d, "", {{"Range", "bytes=10-"}});
  EXPECT_EQ(get.status, 206u);
  EXPECT_EQ(header(get, "Content-Range"), "bytes 10-12/13");
  ASSERT_TRUE(get.file);
  EXPECT_EQ(get.file->offset, 10u);
  EXPECT_EQ(get.file->length, 3u);
  auto bad_range = call(http::verb::get, "/v2/a/b/blobs/" + d, "", {{"Range", "bytes=50-60"}});
  EXPECT_EQ(bad_range.status, 416u);
  EXPECT_EQ(header(bad_range, "Content-Range"), "bytes */13");
}

// Large chunks go to the disk with direct I/O in whole blocks; sessions end and resume off the
// block boundaries, and the blob served afterwards is byte for byte what was sent.
TEST_F(v2_handler_test, large_chunked_upload_across_unaligned_boundaries) {
  std::string data(5 * 1024 * 1024 + 4321, '\0');
  std::uint32_t x = 12345;
  for (auto& c : data) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
  auto start = call(http::verb::post, "/v2/big/blobs/uploads/");
  auto location = header(start, "Location");
  std::size_t cuts[] = {0, 7, 1024 * 1024 + 3, 3 * 1024 * 1024 + 1, data.size()};
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
    auto part = data.substr(cuts[i], cuts[i + 1] - cuts[i]);
    auto p = call(http::verb::patch, location, part,
                  {{"Content-Range", std::to_string(cuts[i]) + "-" + std::to_string(cuts[i + 1] - 1)}});
    ASSERT_EQ(p.status, 202u) << i;
    EXPECT_EQ(header(p, "Range"), "0-" + std::to_string(cuts[i + 1] - 1));
    location = header(p, "Location");
  }
  auto d = digest_of(data).str();
  auto put = call(http::verb::put, location + "?digest=" + d);
  ASSERT_EQ(put.status, 201u) << put.body;
  auto get = call(http::verb::get, "/v2/big/blobs/" + d);
  ASSERT_EQ(get.status, 200u);
  ASSERT_TRUE(get.file);
  std::string served(get.file->length, '\0');
  ASSERT_EQ(::pread(get.file->fd, served.data(), served.size(), static_cast<off_t>(get.file->offset)),
            static_cast<ssize_t>(served.size()));
  EXPECT_EQ(served, data);

  // A monolithic PUT of the same size, in one request.
  auto mono = call(http::verb::post, "/v2/big/blobs/uploads/?digest=" + d, data);
  EXPECT_EQ(mono.status, 201u) << mono.body;
}

TEST_F(v2_handler_test, digest_mismatch_and_bad_inputs) {
  auto r = call(http::verb::post, "/v2/r/blobs/uploads/?digest=" + digest_of("x").str(), "y");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(code(r), "DIGEST_INVALID");
  EXPECT_EQ(call(http::verb::head, "/v2/r/blobs/" + digest_of("y").str()).status, 404u);
  EXPECT_EQ(code(call(http::verb::get, "/v2/r/blobs/sha256:xyz")), "DIGEST_INVALID");
  EXPECT_EQ(code(call(http::verb::get, "/v2/R/blobs/sha256:xyz")), "NAME_INVALID");
  EXPECT_EQ(code(call(http::verb::get, "/v2/%2e%2e/tags/list")), "NAME_INVALID");
  EXPECT_EQ(code(call(http::verb::get, "/v2/r/blobs/uploads/not-a-uuid")), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(code(call(http::verb::get, "/v2/never/tags/list")), "NAME_UNKNOWN");
  EXPECT_EQ(call(http::verb::post, "/v2/r/tags/list").status, 405u);
  EXPECT_EQ(call(http::verb::get, "/v2/r/manifests/.INVALID_MANIFEST_NAME").status, 404u);
  EXPECT_EQ(code(call(http::verb::put, "/v2/r/manifests/.bad", "{}")), "TAG_INVALID");
}

TEST_F(v2_handler_test, upload_of_another_repository_is_unknown) {
  auto start = call(http::verb::post, "/v2/one/blobs/uploads/");
  auto id = header(start, "Docker-Upload-UUID");
  auto r = call(http::verb::patch, "/v2/two/blobs/uploads/" + id, "data");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(code(r), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(v2_handler_test, mount_answers_201_or_falls_back_to_202) {
  auto d = push_blob_over_http("src", "layer");
  auto mounted = call(http::verb::post, "/v2/dst/blobs/uploads/?mount=" + d + "&from=src");
  EXPECT_EQ(mounted.status, 201u);
  EXPECT_EQ(header(mounted, "Location"), "/v2/dst/blobs/" + d);
  auto fallback = call(http::verb::post, "/v2/dst2/blobs/uploads/?mount=" + d + "&from=elsewhere");
  EXPECT_EQ(fallback.status, 202u);
  auto anonymous = call(http::verb::post, "/v2/dst3/blobs/uploads/?mount=" + d);
  EXPECT_EQ(anonymous.status, 202u);
}

TEST_F(v2_handler_test, manifests_tags_and_referrers) {
  auto cfg = push_blob_over_http("r", "{}");
  std::string image =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cfg + R"(","size":2},"layers":[]})";
  auto put = call(http::verb::put, "/v2/r/manifests/v1", image,
                  {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  ASSERT_EQ(put.status, 201u) << put.body;
  auto digest = digest_of(image).str();
  EXPECT_EQ(header(put, "Docker-Content-Digest"), digest);

  auto get =
      call(http::verb::get, "/v2/r/manifests/v1", "", {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(get.body, image);
  EXPECT_EQ(header(get, "Content-Type"), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(header(get, "ETag"), "\"" + digest + "\"");
  auto not_accepted = call(http::verb::get, "/v2/r/manifests/v1", "",
                           {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"}});
  EXPECT_EQ(not_accepted.status, 404u);
  auto cached = call(http::verb::get, "/v2/r/manifests/" + digest, "", {{"If-None-Match", "\"" + digest + "\""}});
  EXPECT_EQ(cached.status, 304u);

  std::string sig =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":")" +
      cfg +
      R"(","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      digest + R"(","size":)" + std::to_string(image.size()) + R"(},"annotations":{"k":"v"}})";
  auto sig_digest = digest_of(sig).str();
  auto put_sig = call(http::verb::put, "/v2/r/manifests/" + sig_digest + "?tag=signed&tag=also", sig,
                      {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  ASSERT_EQ(put_sig.status, 201u) << put_sig.body;
  EXPECT_EQ(header(put_sig, "OCI-Subject"), digest);

  auto refs = call(http::verb::get, "/v2/r/referrers/" + digest);
  auto idx = nlohmann::json::parse(refs.body);
  ASSERT_EQ(idx["manifests"].size(), 1u);
  EXPECT_EQ(idx["manifests"][0]["artifactType"], "application/x.sig");
  EXPECT_EQ(idx["manifests"][0]["annotations"]["k"], "v");
  auto filtered = call(http::verb::get, "/v2/r/referrers/" + digest + "?artifactType=application/other");
  EXPECT_EQ(nlohmann::json::parse(filtered.body)["manifests"].size(), 0u);
  EXPECT_EQ(header(filtered, "OCI-Filters-Applied"), "artifactType");

  auto page = call(http::verb::get, "/v2/r/tags/list?n=2");
  EXPECT_EQ(nlohmann::json::parse(page.body)["tags"], (nlohmann::json{"also", "signed"}));
  EXPECT_EQ(header(page, "Link"), "</v2/r/tags/list?n=2&last=signed>; rel=\"next\"");
  auto last = call(http::verb::get, "/v2/r/tags/list?n=2&last=signed");
  EXPECT_EQ(nlohmann::json::parse(last.body)["tags"], (nlohmann::json{"v1"}));
  EXPECT_EQ(header(last, "Link"), "");
  EXPECT_EQ(nlohmann::json::parse(call(http::verb::get, "/v2/r/tags/list?n=0").body)["tags"].size(), 0u);
  EXPECT_EQ(code(call(http::verb::get, "/v2/r/tags/list?n=-1")), "PAGINATION_NUMBER_INVALID");

  EXPECT_EQ(call(http::verb::delete_, "/v2/r/manifests/also").status, 202u);
  EXPECT_EQ(call(http::verb::get, "/v2/r/manifests/also").status, 404u);
  EXPECT_EQ(call(http::verb::get, "/v2/r/manifests/signed").status, 200u);

  auto too_big = call(http::verb::put, "/v2/r/manifests/big", std::string(4 * 1024 * 1024 + 1, ' '));
  EXPECT_EQ(too_big.status, 413u);
  auto missing = call(
      http::verb::put, "/v2/r/manifests/v2",
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":")" +
          digest_of("absent").str() + R"(","size":1},"layers":[]})");
  EXPECT_EQ(code(missing), "MANIFEST_BLOB_UNKNOWN");
}
