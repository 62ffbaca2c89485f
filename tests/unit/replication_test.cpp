// Replication in the domain: the configuration's validation and matching, and the replicator
// copying pushes (blobs, indexes with their children, tags) into a second registry, retrying while
// it is unreachable and failing at once on a refusal. The destination here is a real registry
// (another data directory) behind replication_target; over HTTP, tests/integration/test_replication.py.
#include <gtest/gtest.h>

#include "../common/registry_fixture.hpp"
#include "berth/registry/replicator.hpp"

using namespace berth;

namespace {

const replication_destination west{"eu-west-1", "210987654321"};
const replication_destination south{"ap-south-1", "310987654321"};

// A second registry as a replication destination, counting what it was sent; `down` makes it
// unreachable, `refuse` makes it answer every push with a refusal.
class registry_target final : public replication_target {
 public:
  explicit registry_target(registry& reg) : reg_(reg) {}
  result<void> ensure_repository(const std::string& name, const repository_config& settings) override {
    if (down) return make_error(errc::unavailable, "down");
    if (reg_.repositories().get(name)) return {};
    auto r = reg_.repositories().create(name, settings, {});
    if (!r) return r.take_error();
    return {};
  }
  result<bool> has_blob(const std::string& repository, const digest& d) override {
    if (down) return make_error(errc::unavailable, "down");
    return reg_.blob_size(repository, d).has_value();
  }
  result<bool> mount_blob(const std::string& repository, const std::string& from, const digest& d) override {
    ++mounts;
    return reg_.mount_blob(repository, from, d);
  }
  result<void> push_blob(const std::string& repository, const digest& d, std::uint64_t, byte_reader& body) override {
    if (refuse) return make_error(errc::denied, "no ecr:ReplicateImage");
    ++blobs_sent;
    auto s = reg_.start_upload(repository);
    if (!s) return s.take_error();
    auto w = reg_.resume_upload(repository, s->id, std::nullopt);
    if (!w) return w.take_error();
    char buf[4096];
    for (;;) {
      auto n = body.read(buf, sizeof buf);
      if (!n) return n.take_error();
      if (*n == 0) break;
      if (auto r = (*w)->write(buf, *n); !r) return r.take_error();
    }
    return reg_.complete_upload(std::move(*w), d);
  }
  result<bool> has_manifest(const std::string& repository, const std::string& digest_text) override {
    auto found = reg_.find_manifest(repository, digest_text, "");
    return found && found->has_value();
  }
  result<void> push_manifest(const std::string& repository, const std::string& reference, const std::string& media_type,
                             const std::string& content) override {
    if (refuse) return make_error(errc::denied, "no ecr:ReplicateImage");
    ++manifests_sent;
    reference_t ref =
        reference.starts_with("sha256:") ? reference_t(digest::parse(reference).value()) : reference_t(reference);
    auto r = reg_.put_manifest(repository, ref, media_type, content);
    if (!r) return r.take_error();
    return {};
  }
  bool down = false;
  bool refuse = false;
  int blobs_sent = 0;
  int manifests_sent = 0;
  int mounts = 0;

 private:
  using reference_t = reference;
  registry& reg_;
};

class one_target final : public replication_connector {
 public:
  explicit one_target(std::shared_ptr<replication_target> t) : t_(std::move(t)) {}
  std::shared_ptr<replication_target> connect(const replication_peer&) override { return t_; }

 private:
  std::shared_ptr<replication_target> t_;
};

// The destination: a registry of its own on another directory.
class destination : public testing_support::registry_fixture {
 public:
  void TestBody() override {}
  void start() { SetUp(); }
  registry& r() { return *reg; }
};

class replication_test : public testing_support::registry_fixture {
 protected:
  void SetUp() override {
    registry_fixture::SetUp();
    dest.start();
    target = std::make_shared<registry_target>(dest.r());
    connector = std::make_unique<one_target>(target);
    rules = std::make_unique<replication_rules>(
        backends(),
        std::vector<replication_peer>{{"eu-west-1", "210987654321", "http://127.0.0.1:1", "k", "s"},
                                      {"ap-south-1", "310987654321", "http://127.0.0.1:2", "k", "s"}},
        "000000000000", "us-east-1", clk);
    reg->set_replication(rules.get());
    replication_settings s;
    s.retry_base_seconds = 10;
    s.retry_max_seconds = 40;
    s.max_attempts = 4;
    worker = std::make_unique<replicator>(*reg, backends(), *rules, *connector, clk, s);
  }

  // An image of one config and `layers` layers; returns the manifest's digest.
  std::string push_image(const std::string& repo, const std::string& tag, std::vector<std::string> layers,
                         bool replicated = false) {
    auto config = push_blob(repo, "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    std::string m =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
        config.str() + R"(","size":36},"layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      auto d = push_blob(repo, layers[i]);
      m += (i ? "," : "") + std::string(R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")") +
           d.str() + R"(","size":)" + std::to_string(layers[i].size()) + "}";
    }
    m += "]}";
    put_manifest_options options;
    options.replicated = replicated;
    auto pushed = reg->put_manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", m, options);
    EXPECT_TRUE(pushed) << (pushed ? "" : pushed.error_value().message);
    return pushed ? pushed->digest : "";
  }

  int drain() {
    int n = 0;
    while (worker->replicate_next("w") && n < 100) ++n;
    return n;
  }

  std::vector<replication_status> status(const std::string& repo, const std::string& digest) {
    auto s = worker->status(repo, digest, "");
    EXPECT_TRUE(s);
    return s ? s->second : std::vector<replication_status>{};
  }

  destination dest;
  std::shared_ptr<registry_target> target;
  std::unique_ptr<one_target> connector;
  std::unique_ptr<replication_rules> rules;
  std::unique_ptr<replicator> worker;
};

}  // namespace

TEST_F(replication_test, configurations_are_refused_as_ecr_refuses_them) {
  EXPECT_TRUE(rules->put({}).value().empty());
  auto refused = [&](std::vector<replication_rule> r, const std::string& words) {
    auto out = rules->put(std::move(r));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error_value().code, errc::invalid_parameter);
    EXPECT_NE(out.error_value().message.find(words), std::string::npos) << out.error_value().message;
  };
  refused({{{{"us-east-1", "000000000000"}}, {}}}, "cannot be the same as the source registry");
  refused({{{{"eu-central-1", "210987654321"}}, {}}}, "is not a configured peer");
  refused({{{}, {"prod"}}}, "at least one destination");
  refused(std::vector<replication_rule>(11, replication_rule{{west}, {}}), "at most 10 rules");
  refused({{{west}, std::vector<std::string>(101, "prod")}}, "at most 100 repository filters");
  // Repeated destinations in a rule count once.
  auto stored = rules->put({{{west, west, south}, {"prod"}}}).value();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].destinations.size(), 2u);
  EXPECT_EQ(rules->all().value()[0].prefixes, std::vector<std::string>{"prod"});
}

TEST_F(replication_test, a_push_goes_where_a_rule_matches) {
  ASSERT_TRUE(rules->put({{{west}, {"prod", "team/"}}, {{west, south}, {"prod/eu"}}, {{south}, {}}}));
  using d = std::vector<replication_destination>;
  auto all = rules->all().value();
  EXPECT_EQ(replication_rules::match(all, "prod/app"), (d{west, south}));
  EXPECT_EQ(replication_rules::match(all, "prod/eu/app"), (d{west, south}));
  EXPECT_EQ(replication_rules::match(all, "team/x"), (d{west, south}));
  EXPECT_EQ(replication_rules::match(all, "dev/x"), (d{south}));  // the rule without filters
  ASSERT_TRUE(rules->put({{{west}, {"prod"}}}));
  EXPECT_TRUE(replication_rules::match(rules->all().value(), "dev/x").empty());
  // Only pushes after the configuration are replicated.
  ASSERT_TRUE(rules->put({}));
  auto before = push_image("prod/app", "v0", {"zero"});
  ASSERT_TRUE(rules->put({{{west}, {"prod"}}}));
  auto after = push_image("prod/app", "v1", {"one"});
  auto other = push_image("dev/app", "v1", {"one"});
  EXPECT_TRUE(status("prod/app", before).empty());
  EXPECT_TRUE(status("dev/app", other).empty());
  // A push replicated here from elsewhere is not replicated onward (replication does not chain).
  auto copy = push_image("prod/copy", "v1", {"one"}, true);
  EXPECT_TRUE(status("prod/copy", copy).empty());
  ASSERT_EQ(status("prod/app", after).size(), 1u);
  EXPECT_EQ(status("prod/app", after)[0].status, "IN_PROGRESS");
}

TEST_F(replication_test, images_arrive_with_their_blobs_tags_and_settings) {
  repository_config c;
  c.image_tag_mutability = "IMMUTABLE";
  c.scan_on_push = true;
  ASSERT_TRUE(reg->repositories().create("prod/app", c, {}));
  ASSERT_TRUE(rules->put({{{west}, {"prod"}}}));
  auto d1 = push_image("prod/app", "v1", {"layer-a", "layer-b"});
  EXPECT_EQ(drain(), 1);
  auto there = dest.r().find_image("prod/app", "", "v1").value();
  ASSERT_TRUE(there);
  EXPECT_EQ(there->digest, d1);
  EXPECT_EQ(dest.r().find_manifest("prod/app", d1, "").value()->content,
            reg->find_manifest("prod/app", d1, "").value()->content);
  auto settings = dest.r().repositories().get("prod/app").value().config;
  EXPECT_EQ(settings.image_tag_mutability, "IMMUTABLE");
  EXPECT_TRUE(settings.scan_on_push);
  EXPECT_EQ(target->blobs_sent, 3);
  auto s = status("prod/app", d1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].status, "COMPLETE");
  EXPECT_EQ(s[0].region, "eu-west-1");

  // A second repository sharing a layer: HEAD says it is not there, so it is mounted from the
  // repository replication sent it to (the config blob too).
  ASSERT_TRUE(rules->put({{{west}, {"prod"}}}));
  auto d2 = push_image("prod/other", "v1", {"layer-a", "layer-c"});
  drain();
  EXPECT_EQ(dest.r().find_image("prod/other", "", "v1").value()->digest, d2);
  EXPECT_EQ(target->mounts, 2);
  EXPECT_EQ(target->blobs_sent, 4);  // only layer-c

  // Deletes are not replicated.
  ASSERT_TRUE(reg->delete_image("prod/app", d1, ""));
  EXPECT_EQ(drain(), 0);
  EXPECT_TRUE(dest.r().find_image("prod/app", d1, "").value());
  EXPECT_EQ(worker->status("prod/app", d1, "").error_value().code, errc::image_not_found);
}

TEST_F(replication_test, an_index_arrives_after_its_children) {
  ASSERT_TRUE(rules->put({{{west}, {}}}));
  auto a = push_image("multi", "", {"amd64-layer"});
  auto b = push_image("multi", "", {"arm64-layer"});
  drain();
  const std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                            R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                            a +
                            R"(","size":1,"platform":{"architecture":"amd64","os":"linux"}},)"
                            R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                            b + R"(","size":1,"platform":{"architecture":"arm64","os":"linux"}}]})";
  // Pushed by digest (as the children were), the index's jobs are by digest too.
  ASSERT_TRUE(dest.r().delete_image("multi", b, ""));  // the destination lost one child
  auto pushed = reg->put_manifest("multi", "latest", "application/vnd.oci.image.index.v1+json", index);
  ASSERT_TRUE(pushed);
  drain();
  EXPECT_EQ(dest.r().find_image("multi", "", "latest").value()->digest, pushed->digest);
  EXPECT_TRUE(dest.r().find_image("multi", b, "").value());  // sent again as a child
}

TEST_F(replication_test, an_unreachable_peer_is_retried_with_back_off_and_a_refusal_fails_at_once) {
  ASSERT_TRUE(rules->put({{{west}, {}}}));
  target->down = true;
  auto d = push_image("app", "v1", {"x"});
  EXPECT_EQ(drain(), 1);  // tried, then due again only later
  EXPECT_EQ(status("app", d)[0].status, "IN_PROGRESS");
  clk.now += (9);
  EXPECT_EQ(drain(), 0);
  clk.now += (1);
  EXPECT_EQ(drain(), 1);  // 10 s, then 20 s
  clk.now += (19);
  EXPECT_EQ(drain(), 0);
  target->down = false;
  clk.now += (1);
  EXPECT_EQ(drain(), 1);
  EXPECT_EQ(status("app", d)[0].status, "COMPLETE");

  // max_attempts unreachable attempts: FAILED, PEER_UNAVAILABLE.
  target->down = true;
  auto d2 = push_image("app", "v2", {"y"});
  for (int i = 0; i < 4; ++i) {
    drain();
    clk.now += (40);
  }
  auto s = status("app", d2);
  EXPECT_EQ(s[0].status, "FAILED");
  EXPECT_EQ(s[0].failure_code, "PEER_UNAVAILABLE");

  // A refusal is not retried.
  target->down = false;
  target->refuse = true;
  auto d3 = push_image("app", "v3", {"z"});
  EXPECT_EQ(drain(), 1);
  s = status("app", d3);
  EXPECT_EQ(s[0].status, "FAILED");
  EXPECT_EQ(s[0].failure_code, "ACCESS_DENIED");
  // Pushed again, it is tried again.
  target->refuse = false;
  ASSERT_TRUE(reg->put_manifest("app", std::string("v3"), "application/vnd.oci.image.manifest.v1+json",
                                reg->find_manifest("app", d3, "").value()->content));
  EXPECT_EQ(drain(), 1);
  EXPECT_EQ(status("app", d3)[0].status, "COMPLETE");
}

TEST_F(replication_test, a_moved_tag_ends_where_the_source_has_it) {
  ASSERT_TRUE(rules->put({{{west}, {}}}));
  auto first = push_image("app", "latest", {"one"});
  auto second = push_image("app", "latest", {"two"});
  // The first job runs after the tag moved: it sends its image by digest, not the tag.
  drain();
  EXPECT_EQ(dest.r().find_image("app", "", "latest").value()->digest, second);
  EXPECT_TRUE(dest.r().find_image("app", first, "").value());
}
