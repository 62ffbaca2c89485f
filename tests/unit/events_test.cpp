// Image action events in the domain: the envelope ECR's EventBridge events have, the outbox rows
// pushes and deletions write, and delivery (order per repository, back-off, giving up). The sink
// here records what it was given; over HTTP, with a real receiver, tests/integration/test_events.py.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "../common/registry_fixture.hpp"
#include "berth/registry/event_announcer.hpp"

using namespace berth;
using nlohmann::json;

namespace {

class recording_sink final : public event_sink {
 public:
  result<void> post(const event_webhook& to, const std::string& event_id, const std::string& body) override {
    ++attempts;
    if (failures_left > 0) {
      --failures_left;
      return make_error(errc::unavailable, "HTTP 503");
    }
    posted.push_back({to.url, event_id, json::parse(body)});
    return {};
  }
  struct post_record {
    std::string url;
    std::string id;
    json body;
  };
  std::vector<post_record> posted;
  int failures_left = 0;
  int attempts = 0;
};

class events_test : public testing_support::registry_fixture {
 protected:
  void SetUp() override {
    registry_fixture::SetUp();
    event_settings s;
    s.webhooks = {{"http://127.0.0.1:9/a", ""}, {"http://127.0.0.1:9/b", "k"}};
    s.retry_base_seconds = 2;
    s.retry_max_seconds = 8;
    s.max_attempts = 5;
    announcer = std::make_unique<event_announcer>(meta->events(), sink, clk, "123456789012", "eu-west-1", s);
    reg->set_events(announcer.get());
  }

  std::string push(const std::string& repo, const std::string& tag, const std::string& layer) {
    auto config = push_blob(repo, "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    auto l = push_blob(repo, layer);
    std::string m =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
        config.str() + R"(","size":36},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
        l.str() + R"(","size":)" + std::to_string(layer.size()) + "}]}";
    auto pushed = reg->put_manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", m);
    EXPECT_TRUE(pushed) << (pushed ? "" : pushed.error_value().message);
    return pushed ? pushed->digest : "";
  }

  int drain() {
    int n = 0;
    while (announcer->deliver_next("w") && n < 1000) ++n;
    return n;
  }

  recording_sink sink;
  std::unique_ptr<event_announcer> announcer;
};

TEST(event_envelope, is_the_eventbridge_shape_of_an_ecr_image_action) {
  auto e = json::parse(event_announcer::envelope("13cde686-328b-4117-af20-0e5566167482", 1573869274, "123456789012",
                                                 "us-west-2", "PUSH", "my-repository-name", "sha256:7f5b", "latest",
                                                 "application/vnd.oci.image.manifest.v1+json"));
  EXPECT_EQ(e, json::parse(R"({"version":"0","id":"13cde686-328b-4117-af20-0e5566167482",
    "detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","time":"2019-11-16T01:54:34Z",
    "region":"us-west-2","resources":[],"detail":{"result":"SUCCESS","repository-name":"my-repository-name",
    "image-digest":"sha256:7f5b","action-type":"PUSH","image-tag":"latest",
    "manifest-media-type":"application/vnd.oci.image.manifest.v1+json"}})"));
  // A push by digest and a deletion have no tag or media type to tell.
  auto d = json::parse(event_announcer::envelope("x", 0, "1", "r", "DELETE", "repo", "sha256:1", "", ""));
  EXPECT_FALSE(d["detail"].contains("image-tag"));
  EXPECT_FALSE(d["detail"].contains("manifest-media-type"));
  EXPECT_EQ(d["time"], "1970-01-01T00:00:00Z");
}

TEST(event_envelope, ids_are_version_4_uuids) {
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto id = random_uuid();
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST_F(events_test, a_push_and_its_deletion_reach_every_webhook_in_order) {
  auto d = push("app", "v1", "layer-1");
  clk.now += 5;
  ASSERT_TRUE(reg->delete_image("app", d, ""));
  EXPECT_EQ(drain(), 4);
  ASSERT_EQ(sink.posted.size(), 4u);
  std::vector<std::string> a;
  for (const auto& p : sink.posted) {
    EXPECT_EQ(p.body["id"], p.id);
    EXPECT_EQ(p.body["account"], "123456789012");
    EXPECT_EQ(p.body["region"], "eu-west-1");
    EXPECT_EQ(p.body["detail"]["repository-name"], "app");
    EXPECT_EQ(p.body["detail"]["image-digest"], d);
    EXPECT_EQ(p.body["detail"]["image-tag"], "v1");
    if (p.url.ends_with("/a")) a.push_back(p.body["detail"]["action-type"]);
  }
  EXPECT_EQ(a, (std::vector<std::string>{"PUSH", "DELETE"}));
  EXPECT_NE(sink.posted[0].id, sink.posted[1].id);  // each webhook's copy has its own id
  EXPECT_EQ(announcer->counts().delivered, 4u);
  EXPECT_EQ(meta->statistics().queues().value().at(2).depth, 0);
}

// The delivery workers wait on the announcer's bell between polls: a committed push or deletion
// rings it, a refused one does not, and a ring between looking for work and waiting is not lost.
TEST_F(events_test, committed_changes_ring_the_delivery_bell) {
  auto& bell = announcer->bell();
  const auto before = bell.rung();
  push("app", "v1", "layer-1");
  EXPECT_EQ(bell.rung(), before + 1);
  ASSERT_TRUE(reg->delete_manifest("app", std::string("v1")));
  EXPECT_EQ(bell.rung(), before + 2);
  EXPECT_FALSE(reg->delete_manifest("app", std::string("v1")));  // nothing left to delete
  EXPECT_EQ(bell.rung(), before + 2);

  const auto seen = bell.rung();
  std::thread ringer([&] { bell.ring(); });
  ringer.join();
  const auto t0 = std::chrono::steady_clock::now();
  bell.wait(std::stop_token{}, seen, std::chrono::seconds(120));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));  // did not sleep the timeout
}

TEST_F(events_test, a_refused_push_announces_nothing_and_a_tag_deletion_names_its_image) {
  EXPECT_FALSE(reg->put_manifest("app", std::string("v1"), "application/vnd.oci.image.manifest.v1+json",
                                 R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                                 "config":{"mediaType":"a","digest":"sha256:)" +
                                     std::string(64, '0') + R"(","size":1},"layers":[]})"));
  EXPECT_EQ(drain(), 0);
  auto d = push("app", "v1", "layer-1");
  ASSERT_TRUE(reg->delete_manifest("app", std::string("v1")));
  drain();
  ASSERT_EQ(sink.posted.size(), 4u);
  EXPECT_EQ(sink.posted.back().body["detail"]["action-type"], "DELETE");
  EXPECT_EQ(sink.posted.back().body["detail"]["image-digest"], d);
  EXPECT_EQ(sink.posted.back().body["detail"]["image-tag"], "v1");
}

TEST_F(events_test, a_failing_receiver_is_retried_with_backoff_and_holds_back_only_its_repository) {
  push("one", "v1", "layer-1");
  push("one", "v2", "layer-2");
  push("two", "v1", "layer-3");
  sink.failures_left = 1;  // the first post, one/v1 to webhook a, fails
  drain();
  // Webhook a: one/v1 waits 2 s, and one/v2 behind it; two/v1 went. Webhook b: all three.
  std::vector<std::string> got;
  for (const auto& p : sink.posted)
    got.push_back(p.url.substr(p.url.size() - 1) + ":" + std::string(p.body["detail"]["repository-name"]) + "/" +
                  std::string(p.body["detail"]["image-tag"]));
  EXPECT_EQ(got, (std::vector<std::string>{"b:one/v1", "b:one/v2", "a:two/v1", "b:two/v1"}));
  clk.now += 1;
  EXPECT_EQ(drain(), 0);  // not yet
  clk.now += 1;
  drain();
  ASSERT_EQ(sink.posted.size(), 6u);
  EXPECT_EQ(sink.posted[4].body["detail"]["image-tag"], "v1");
  EXPECT_EQ(sink.posted[5].body["detail"]["image-tag"], "v2");
  EXPECT_EQ(announcer->counts().failed_attempts, 1u);
}

TEST_F(events_test, an_event_is_dropped_after_max_attempts) {
  push("one", "v1", "layer-1");
  sink.failures_left = 1000;
  for (int i = 0; i < 20; ++i) {
    drain();
    clk.now += 8;
  }
  EXPECT_EQ(announcer->counts().dropped, 2u);  // one per webhook, after 5 attempts each
  EXPECT_EQ(sink.attempts, 10);
  EXPECT_EQ(meta->statistics().queues().value().at(2).depth, 0);
}

TEST_F(events_test, events_outlive_the_process_that_wrote_them) {
  push("one", "v1", "layer-1");
  // A worker claimed one and died before posting it.
  ASSERT_TRUE(meta->events().claim_next("dead", clk.now, clk.now + 600).value());
  reg->set_events(nullptr);
  announcer.reset();
  open();
  event_settings s;
  s.webhooks = {{"http://127.0.0.1:9/a", ""}, {"http://127.0.0.1:9/b", "k"}};
  announcer = std::make_unique<event_announcer>(meta->events(), sink, clk, "123456789012", "eu-west-1", s);
  announcer->recover("dead");
  EXPECT_EQ(drain(), 2);
}

TEST_F(events_test, an_event_for_a_webhook_no_longer_configured_is_dropped) {
  push("one", "v1", "layer-1");
  event_settings s;
  s.webhooks = {{"http://127.0.0.1:9/b", "k"}};
  announcer = std::make_unique<event_announcer>(meta->events(), sink, clk, "123456789012", "eu-west-1", s);
  reg->set_events(announcer.get());
  drain();
  ASSERT_EQ(sink.posted.size(), 1u);
  EXPECT_EQ(sink.posted[0].url, "http://127.0.0.1:9/b");
  EXPECT_EQ(announcer->counts().dropped, 1u);
}

}  // namespace
