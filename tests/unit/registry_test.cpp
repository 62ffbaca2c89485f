#include "berth/registry/registry.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "../common/observed_upload_store.hpp"
#include "../common/registry_fixture.hpp"
#include "berth/meta/metadata_store.hpp"

using namespace berth;

namespace {

class registry_test : public testing_support::registry_fixture {
 protected:
  std::string read_blob(const std::string& repo, const digest& d) {
    auto b = reg->open_blob(repo, d);
    EXPECT_TRUE(b);
    if (!b) return {};
    std::string out((*b)->size(), '\0');
    auto bytes = (*b)->bytes(0, out.size(), false);
    EXPECT_TRUE(bytes);
    const auto& f = std::get<file_region>(*bytes);
    EXPECT_EQ(::pread(f.fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    return out;
  }
};

}  // namespace

TEST_F(registry_test, chunked_upload_commits_exact_bytes) {
  auto s = reg->start_upload("r");
  ASSERT_TRUE(s);
  {
    auto w = reg->resume_upload("r", s->id, byte_range{0, 4});
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("hello", 5));
  }
  EXPECT_EQ(reg->get_upload("r", s->id)->size, 5u);
  auto stale = reg->resume_upload("r", s->id, byte_range{0, 4});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error_value().code, errc::upload_out_of_order);
  EXPECT_EQ(std::get<upload_detail>(stale.error_value().detail).size, 5u);
  auto w = reg->resume_upload("r", s->id, byte_range{5, 10});
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write(" world", 6));
  ASSERT_TRUE(reg->complete_upload(std::move(*w), digest_of("hello world")));
  EXPECT_EQ(read_blob("r", digest_of("hello world")), "hello world");
  EXPECT_FALSE(reg->get_upload("r", s->id));
}

TEST_F(registry_test, wrong_digest_commits_nothing) {
  auto s = reg->start_upload("r");
  auto w = reg->resume_upload("r", s->id, std::nullopt);
  ASSERT_TRUE((*w)->write("abc", 3));
  auto r = reg->complete_upload(std::move(*w), digest_of("abd"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_value().code, errc::digest_invalid);
  EXPECT_FALSE(reg->blob_size("r", digest_of("abc")));
  EXPECT_FALSE(reg->blob_size("r", digest_of("abd")));
  EXPECT_FALSE(has_blob(digest_of("abc")));
}

TEST_F(registry_test, upload_resumes_after_restart_and_sha512_rehashes) {
  auto s = reg->start_upload("r");
  {
    auto w = reg->resume_upload("r", s->id, std::nullopt);
    ASSERT_TRUE((*w)->write("part one,", 9));
  }
  open();  // a new process: no running hash in memory
  auto w = reg->resume_upload("r", s->id, byte_range{9, 17});
  ASSERT_TRUE(w) << w.error_value().message;
  ASSERT_TRUE((*w)->write("part two", 8));
  auto d = digest_of("part one,part two", digest_algorithm::sha512);
  ASSERT_TRUE(reg->complete_upload(std::move(*w), d));
  EXPECT_EQ(read_blob("r", d), "part one,part two");
}

TEST_F(registry_test, uploads_belong_to_their_repository) {
  auto s = reg->start_upload("r");
  EXPECT_EQ(reg->get_upload("other", s->id).error_value().code, errc::blob_upload_unknown);
  EXPECT_EQ(reg->resume_upload("other", s->id, std::nullopt).error_value().code, errc::blob_upload_unknown);
  EXPECT_EQ(reg->cancel_upload("other", s->id).error_value().code, errc::blob_upload_unknown);
  ASSERT_TRUE(reg->cancel_upload("r", s->id));
  EXPECT_EQ(reg->get_upload("r", s->id).error_value().code, errc::blob_upload_unknown);
}

TEST_F(registry_test, one_writer_per_upload) {
  auto s = reg->start_upload("r");
  auto w1 = reg->resume_upload("r", s->id, std::nullopt);
  ASSERT_TRUE(w1);
  auto w2 = reg->resume_upload("r", s->id, std::nullopt);
  ASSERT_FALSE(w2);
  EXPECT_EQ(w2.error_value().code, errc::blob_upload_invalid);
}

TEST_F(registry_test, abandoned_uploads_expire) {
  auto old_upload = reg->start_upload("r");
  clk.now += 7200;
  auto fresh = reg->start_upload("r");
  EXPECT_EQ(reg->expire_uploads(), 1u);
  EXPECT_FALSE(reg->get_upload("r", old_upload->id));
  EXPECT_TRUE(reg->get_upload("r", fresh->id));
  EXPECT_EQ(storage.uploads->list_uploads().size(), 1u);
}

TEST_F(registry_test, mount_and_delete_blob) {
  auto d = push_blob("src", "shared layer");
  EXPECT_FALSE(reg->mount_blob("dst", "nowhere", d).value());
  EXPECT_FALSE(reg->mount_blob("dst", "../src", d).value());
  EXPECT_TRUE(reg->mount_blob("dst", "src", d).value());
  EXPECT_EQ(read_blob("dst", d), "shared layer");
  ASSERT_TRUE(reg->delete_blob("src", d));
  EXPECT_EQ(reg->blob_size("src", d).error_value().code, errc::blob_unknown);
  EXPECT_TRUE(reg->blob_size("dst", d));  // other repositories keep their link
}

TEST_F(registry_test, manifest_put_get_delete) {
  auto cfg = push_blob("r", "{}");
  auto layer = push_blob("r", "layer bytes");
  std::string m =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cfg.str() + R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
      layer.str() + R"(","size":11}]})";
  auto pushed = reg->put_manifest("r", std::string("v1"), "application/vnd.oci.image.manifest.v1+json", m);
  ASSERT_TRUE(pushed) << pushed.error_value().message;
  EXPECT_EQ(pushed->digest, digest_of(m).str());
  auto got = reg->get_manifest("r", std::string("v1"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->content, m);  // exact bytes
  EXPECT_EQ(got->media_type, "application/vnd.oci.image.manifest.v1+json");

  auto wrong = reg->put_manifest("r", digest_of("other"), "", m);
  EXPECT_EQ(wrong.error_value().code, errc::digest_invalid);
  auto elsewhere = reg->put_manifest("other", std::string("v1"), "", m);
  EXPECT_EQ(elsewhere.error_value().code, errc::manifest_blob_unknown);

  ASSERT_TRUE(reg->delete_manifest("r", digest_of(m)));
  EXPECT_EQ(reg->get_manifest("r", std::string("v1")).error_value().code, errc::manifest_unknown);
  EXPECT_EQ(reg->list_tags("r", "", 10).value().size(), 0u);
  EXPECT_EQ(reg->list_tags("never", "", 10).error_value().code, errc::name_unknown);
}

namespace {
std::string image_manifest(const digest& cfg, const digest& layer, std::int64_t layer_size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         cfg.str() + R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
         layer.str() + R"(","size":)" + std::to_string(layer_size) + "}]}";
}
}  // namespace

TEST_F(registry_test, repositories_must_exist_without_a_template) {
  ASSERT_TRUE(repos->delete_template("ROOT"));
  auto s = reg->start_upload("nowhere");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error_value().code, errc::name_unknown);
  EXPECT_EQ(s.error_value().message,
            "The repository with name 'nowhere' does not exist in the registry with id '000000000000'");
  ASSERT_TRUE(
      repos->put_template("team", R"({"appliedFor":["CREATE_ON_PUSH"],"imageTagMutability":"IMMUTABLE"})", true));
  EXPECT_FALSE(reg->start_upload("teamx/app"));  // a prefix matches whole path components
  ASSERT_TRUE(reg->start_upload("team/app"));
  EXPECT_EQ(repos->get("team/app")->config.image_tag_mutability, "IMMUTABLE");
}

TEST_F(registry_test, immutable_tags_and_exclusions) {
  repository_config c;
  c.image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION";
  c.exclusion_filters = {"latest", "dev-*"};
  ASSERT_TRUE(repos->create("imm", c, {}));
  auto cfg = push_blob("imm", "{}");
  auto l1 = push_blob("imm", "one");
  auto l2 = push_blob("imm", "two");
  auto m1 = image_manifest(cfg, l1, 3);
  auto m2 = image_manifest(cfg, l2, 3);
  ASSERT_TRUE(reg->put_manifest("imm", std::string("v1"), "", m1));
  ASSERT_TRUE(reg->put_manifest("imm", std::string("v1"), "", m1));  // same digest: fine
  auto moved = reg->put_manifest("imm", std::string("v1"), "", m2);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error_value().code, errc::tag_immutable);
  EXPECT_EQ(moved.error_value().message,
            "The image tag 'v1' already exists in the 'imm' repository and cannot be overwritten because the tag is "
            "immutable.");
  ASSERT_TRUE(reg->put_manifest("imm", std::string("latest"), "", m1));
  EXPECT_TRUE(reg->put_manifest("imm", std::string("latest"), "", m2));  // excluded: mutable
  EXPECT_TRUE(reg->put_manifest("imm", std::string("dev-7"), "", m1));
  EXPECT_TRUE(reg->put_manifest("imm", std::string("dev-7"), "", m2));
  EXPECT_TRUE(reg->put_manifest("imm", digest_of(m2), "", m2));  // by digest: always
  EXPECT_TRUE(tag_is_immutable(repository_config{"MUTABLE_WITH_EXCLUSION", {"rel-*"}, false, "AES256", ""}, "rel-1"));
  EXPECT_FALSE(tag_is_immutable(repository_config{"MUTABLE_WITH_EXCLUSION", {"rel-*"}, false, "AES256", ""}, "dev"));
}

TEST_F(registry_test, batch_delete_semantics) {
  auto cfg = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto m = image_manifest(cfg, layer, 5);
  auto d = digest_of(m).str();
  ASSERT_TRUE(reg->put_manifest("r", std::string("a"), "", m));
  ASSERT_TRUE(reg->put_manifest("r", std::string("b"), "", m));
  auto first = reg->delete_image("r", "", "a");  // not the last tag: only the tag goes
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_TRUE(reg->get_manifest("r", digest::parse(d).value()));
  auto last = reg->delete_image("r", "", "b");  // the last tag: the image goes too
  ASSERT_TRUE(last);
  EXPECT_EQ(reg->get_manifest("r", digest::parse(d).value()).error_value().code, errc::manifest_unknown);

  ASSERT_TRUE(reg->put_manifest("r", std::string("child"), "", m));
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      d + R"(","size":)" + std::to_string(m.size()) + "}]}";
  ASSERT_TRUE(reg->put_manifest("r", std::string("multi"), "", index));
  auto refused = reg->delete_image("r", d, "");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error_value().code, errc::image_referenced_by_index);
  auto images = reg->all_images("r").value();
  ASSERT_EQ(images.size(), 2u);
  for (const auto& i : images) EXPECT_EQ(i.image_size, 5);  // the index: the largest of its manifests
  ASSERT_TRUE(reg->delete_image("r", digest_of(index).str(), ""));
  EXPECT_TRUE(reg->delete_image("r", d, ""));
}

TEST_F(registry_test, pulls_are_recorded_in_batches) {
  auto cfg = push_blob("r", "{}");
  auto layer = push_blob("r", "layer");
  auto m = image_manifest(cfg, layer, 5);
  ASSERT_TRUE(reg->put_manifest("r", std::string("v1"), "", m));
  EXPECT_EQ(reg->all_images("r").value()[0].last_pulled_at, 0);
  clk.now += 100;
  ASSERT_TRUE(reg->get_manifest("r", std::string("v1"), true));
  reg->flush_pulls();
  EXPECT_EQ(reg->all_images("r").value()[0].last_pulled_at, clk.now);
}

// ---- uploads continued by another process, and garbage collection racing a commit ------------------

namespace {

class shared_backend_test : public registry_test {
 protected:
  // A second server on the same metadata and stores (another process, as far as the domain knows).
  std::unique_ptr<registry> second_server(storage::upload_store& uploads) {
    return std::make_unique<registry>(registry_backends{*storage.blobs, uploads, *meta}, *repos, clk,
                                      registry_options{3600});
  }
};

}  // namespace

TEST_F(shared_backend_test, any_server_continues_an_upload_without_reading_it_again) {
  testing_support::observed_upload_store seen(*storage.uploads);
  auto a = second_server(seen);
  auto b = second_server(seen);
  std::string one(700 * 1024 + 3, 'x'), two(300 * 1024 + 1, 'y');
  auto s = a->start_upload("r");
  ASSERT_TRUE(s);
  {
    auto w = a->resume_upload("r", s->id, std::nullopt);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(one.data(), one.size()));
    ASSERT_TRUE((*w)->checkpoint());
  }
  EXPECT_EQ(b->get_upload("r", s->id)->size, one.size());
  auto w = b->resume_upload("r", s->id, byte_range{one.size(), one.size() + two.size() - 1});
  ASSERT_TRUE(w) << w.error_value().message;
  ASSERT_TRUE((*w)->write(two.data(), two.size()));
  ASSERT_TRUE(b->complete_upload(std::move(*w), digest_of(one + two)));
  EXPECT_EQ(seen.reads.load(), 0);  // the hash went on from the checkpoint
  EXPECT_EQ(read_blob("r", digest_of(one + two)), one + two);
}

TEST_F(shared_backend_test, a_checkpoint_from_another_epoch_is_hashed_again) {
  testing_support::observed_upload_store seen(*storage.uploads);
  auto a = second_server(seen);
  auto s = a->start_upload("r");
  {
    auto w = a->resume_upload("r", s->id, std::nullopt);
    ASSERT_TRUE((*w)->write("before the reboot,", 18));
  }
  seen.epoch_override = "another boot";  // flushed bytes may have been lost: trust only the file
  auto w = a->resume_upload("r", s->id, byte_range{18, 23});
  ASSERT_TRUE(w) << w.error_value().message;
  EXPECT_EQ(seen.reads.load(), 1);
  ASSERT_TRUE((*w)->write(" after", 6));
  ASSERT_TRUE(a->complete_upload(std::move(*w), digest_of("before the reboot, after")));
}

TEST_F(shared_backend_test, one_writer_per_upload_across_servers) {
  auto a = second_server(*storage.uploads);
  auto b = second_server(*storage.uploads);
  auto s = a->start_upload("r");
  auto held = a->resume_upload("r", s->id, std::nullopt);
  ASSERT_TRUE(held);
  auto other = b->resume_upload("r", s->id, std::nullopt);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error_value().code, errc::blob_upload_invalid);
  EXPECT_EQ(b->cancel_upload("r", s->id).error_value().code, errc::blob_upload_invalid);
  held->reset();
  EXPECT_TRUE(b->resume_upload("r", s->id, std::nullopt));
}

// Garbage collection (in "another process") has marked the very digest a push commits: the commit
// waits for the removal, then commits again from its session; its bytes survive.
TEST_F(shared_backend_test, a_commit_waits_for_the_removal_of_the_same_digest) {
  std::string bytes = "collected once, pushed again";
  auto d = push_blob("r", bytes);
  clk.now += 10;
  ASSERT_TRUE(meta->blobs().unlink("r", d.str()));
  ASSERT_TRUE(meta->maintenance()
                  .begin_delete(d.str(), clk.now, meta::deletion_claim{"gc-elsewhere", clk.now, clk.now + 600})
                  .value());
  auto s = reg->start_upload("r");
  auto w = reg->resume_upload("r", s->id, std::nullopt);
  ASSERT_TRUE((*w)->write(bytes.data(), bytes.size()));
  std::thread gc([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(blobs->trash_blob(d));
    ASSERT_TRUE(meta->maintenance().finish_delete(d.str(), "gc-elsewhere"));
    blobs->purge_blob(d);
  });
  auto committed = reg->complete_upload(std::move(*w), d);
  gc.join();
  ASSERT_TRUE(committed) << committed.error_value().message;
  EXPECT_EQ(read_blob("r", d), bytes);
  EXPECT_TRUE(storage.uploads->list_uploads().empty());
}

TEST_F(shared_backend_test, recovery_finishes_a_removal_whose_collector_died) {
  auto d = push_blob("r", "left half removed");
  clk.now += 10;
  ASSERT_TRUE(
      meta->maintenance().begin_delete(d.str(), clk.now, meta::deletion_claim{"dead", clk.now, clk.now + 5}).value());
  ASSERT_TRUE(blobs->trash_blob(d));  // and then the collector died
  reg->recover();
  EXPECT_TRUE(meta->maintenance().find_blob(d.str()).value());  // its mark is still live: left alone
  clk.now += 10;
  reg->recover();
  EXPECT_FALSE(meta->maintenance().find_blob(d.str()).value());
  EXPECT_TRUE(blobs->trashed_blobs().empty());
  EXPECT_FALSE(has_blob(d));
}
