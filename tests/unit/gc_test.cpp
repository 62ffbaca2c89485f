#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <utility>

#include "../common/registry_fixture.hpp"
#include "berth/registry/consistency_check.hpp"
#include "berth/registry/garbage_collector.hpp"
#include "berth/registry/lifecycle_service.hpp"

using namespace berth;

namespace {

class gc_test : public testing_support::registry_fixture {
 protected:
  std::string image(const digest& cfg, const digest& layer) {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           cfg.str() + R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
           layer.str() + R"(","size":5}]})";
  }
  gc_report collect(std::int64_t grace, bool untagged = false, bool dry = false) {
    garbage_collector c(*reg, backends());
    return c.collect(gc_options{grace, untagged, dry});
  }
};

}  // namespace

TEST_F(gc_test, collects_only_unreferenced_blobs_past_the_grace_period) {
  auto cfg = push_blob("r", "{}");
  auto shared = push_blob("r", "layer");
  auto lonely = push_blob("r", "never used");
  ASSERT_TRUE(reg->put_manifest("r", std::string("v1"), "", image(cfg, shared)));
  EXPECT_TRUE(collect(3600).blobs.empty());  // everything is younger than the grace period
  clk.now += 7200;
  auto dry = collect(3600, false, true);
  EXPECT_EQ(dry.blobs, std::vector<std::string>{lonely.str()});
  EXPECT_TRUE(has_blob(lonely));
  auto real = collect(3600);
  EXPECT_EQ(real.blobs, std::vector<std::string>{lonely.str()});
  EXPECT_EQ(real.bytes, 10u);
  EXPECT_FALSE(has_blob(lonely));
  EXPECT_TRUE(has_blob(shared));
  EXPECT_EQ(reg->blob_size("r", lonely).error_value().code, errc::blob_unknown);

  // Deleting the image frees its blobs; a re-upload refreshes a blob's protection.
  ASSERT_TRUE(reg->delete_image("r", digest_of(image(cfg, shared)).str(), ""));
  push_blob("r", "layer");
  EXPECT_TRUE(collect(3600).blobs == std::vector<std::string>{cfg.str()});
  EXPECT_TRUE(has_blob(shared));
  clk.now += 7200;
  EXPECT_EQ(collect(3600).blobs, std::vector<std::string>{shared.str()});
  EXPECT_TRUE(blobs->trashed_blobs().empty());
}

TEST_F(gc_test, untagged_images_only_by_policy) {
  auto cfg = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto m = image(cfg, layer);
  ASSERT_TRUE(reg->put_manifest("r", digest_of(m), "", m));  // pushed by digest: untagged
  clk.now += 7200;
  EXPECT_TRUE(collect(3600).images.empty());  // ECR's default: keep
  auto r = collect(3600, true);
  EXPECT_EQ(r.images, std::vector<std::string>{"r@" + digest_of(m).str()});
  EXPECT_EQ(r.blobs.size(), 2u);
}

TEST_F(gc_test, recovery_restores_a_blob_whose_collection_never_committed) {
  auto d = push_blob("r", "precious");
  ASSERT_TRUE(blobs->trash_blob(d));  // as if the process died inside the collection
  EXPECT_FALSE(has_blob(d));
  reg->recover();
  EXPECT_TRUE(has_blob(d));
  EXPECT_TRUE(blobs->trashed_blobs().empty());
}

TEST_F(gc_test, fsck_finds_and_quarantines_corruption) {
  auto cfg = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  ASSERT_TRUE(reg->put_manifest("r", std::string("v1"), "", image(cfg, layer)));
  auto clean = check_consistency(backends(), false);
  EXPECT_TRUE(clean.problems.empty());
  EXPECT_EQ(clean.blobs_checked, 2u);
  EXPECT_EQ(clean.references_checked, 2u);
  std::ofstream(blob_path(layer), std::ios::trunc) << "LAYER";  // bit rot
  auto broken = check_consistency(backends(), false);
  ASSERT_EQ(broken.problems.size(), 2u);  // the blob, and the manifest that needs it
  auto repaired = check_consistency(backends(), true);
  ASSERT_EQ(repaired.quarantined.size(), 1u);
  EXPECT_FALSE(has_blob(layer));
  EXPECT_TRUE(std::filesystem::exists(repaired.quarantined[0]));
  // Pushing the layer again heals the registry.
  push_blob("r", "layer");
  EXPECT_TRUE(check_consistency(backends(), false).problems.empty());
}

namespace {

// A blob store whose first read of one digest lets a collection remove it first, as a server's
// online collection may between fsck's reading the rows and opening the bytes.
class collected_while_checked final : public storage::blob_store {
 public:
  collected_while_checked(storage::blob_store& inner, digest target, std::function<void()> collect)
      : inner_(inner), target_(std::move(target)), collect_(std::move(collect)) {}
  result<std::shared_ptr<blob_content>> open_blob(const digest& d) override {
    if (d == target_ && collect_) std::exchange(collect_, nullptr)();
    return inner_.open_blob(d);
  }
  result<std::optional<std::uint64_t>> stat_blob(const digest& d) override { return inner_.stat_blob(d); }
  std::vector<std::pair<digest, std::int64_t>> list_blobs() override { return inner_.list_blobs(); }
  result<void> trash_blob(const digest& d) override { return inner_.trash_blob(d); }
  result<void> restore_blob(const digest& d) override { return inner_.restore_blob(d); }
  void purge_blob(const digest& d) override { inner_.purge_blob(d); }
  std::vector<digest> trashed_blobs() override { return inner_.trashed_blobs(); }
  result<std::string> quarantine_blob(const digest& d) override { return inner_.quarantine_blob(d); }

 private:
  storage::blob_store& inner_;
  digest target_;
  std::function<void()> collect_;
};

}  // namespace

TEST_F(gc_test, fsck_beside_a_collection_reports_no_removed_blob_as_missing) {
  auto cfg = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto lonely = push_blob("r", "never used");
  ASSERT_TRUE(reg->put_manifest("r", std::string("v1"), "", image(cfg, layer)));
  clk.now += 7200;
  collected_while_checked racing(*blobs, lonely, [&] { EXPECT_EQ(collect(3600).blobs.size(), 1u); });
  auto report = check_consistency(registry_backends{racing, *storage.uploads, *meta}, false);
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  EXPECT_FALSE(has_blob(lonely));
  EXPECT_EQ(report.references_checked, 2u);
}

TEST_F(gc_test, a_run_stops_between_items_when_interrupted_and_the_next_carries_on) {
  for (const char* b : {"one", "two", "three"}) push_blob("r", b);
  clk.now += 7200;
  garbage_collector c(*reg, backends());
  int asked = 0;
  // Interrupted after the first removal: one blob goes, the rest wait for the next run.
  auto first = c.collect(gc_options{3600, false, false, [&] { return ++asked > 1; }});
  EXPECT_EQ(first.blobs.size(), 1u);
  auto rest = c.collect(gc_options{3600, false, false});
  EXPECT_EQ(rest.blobs.size(), 2u);
  EXPECT_TRUE(blobs->trashed_blobs().empty());
}

// Lifecycle, the other duty a shutdown waits for: a run stops between images and the next plans
// afresh (an expiry of thousands of images once held SIGTERM for the whole shutdown grace).
TEST_F(gc_test, a_lifecycle_run_stops_between_images_when_interrupted) {
  auto cfg = push_blob("r", "{}");
  for (const char* name : {"a", "b", "c"}) {
    clk.now += 10;
    ASSERT_TRUE(reg->put_manifest("r", std::string(name), "", image(cfg, push_blob("r", name))));
  }
  lifecycle_service lifecycle(*reg, backends());
  ASSERT_TRUE(lifecycle.put_policy("r", R"({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any",
      "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})"));
  int asked = 0;
  auto first = lifecycle.run_all(false, [&] { return ++asked > 2; });  // once for the repository, once per image
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].applied, 1u);
  EXPECT_EQ(first[0].actions.size(), 2u);
  auto rest = lifecycle.run("r", false);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->applied, 1u);
  EXPECT_TRUE(lifecycle.run("r", false)->actions.empty());
}
