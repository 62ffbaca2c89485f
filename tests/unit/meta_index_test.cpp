#include "berth/meta/sqlite_meta_index.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"

using namespace berth;
using namespace berth::meta;

namespace {

class meta_index_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = sqlite_meta_index::open(dir.path() / "berth.db");
    ASSERT_TRUE(m) << m.error_value().message;
    index = std::move(m).value();
  }
  manifest_write manifest(const std::string& repo, const std::string& digest, std::vector<std::string> blobs,
                          std::vector<std::string> tags) {
    manifest_write w;
    w.repository = repo;
    w.digest = digest;
    w.media_type = "application/vnd.oci.image.manifest.v1+json";
    w.content = "{}";
    w.pushed_at = 10;
    w.blob_refs = std::move(blobs);
    w.tags = std::move(tags);
    return w;
  }
  testing_support::temp_dir dir;
  std::unique_ptr<sqlite_meta_index> index;
};

}  // namespace

TEST_F(meta_index_test, writes_need_an_existing_repository) {
  EXPECT_EQ(index->record_blob("nope", "sha256:1", 5, 1, nullptr).error_value().code, errc::name_unknown);
  EXPECT_EQ(index->create_upload("u", "nope", 1).error_value().code, errc::name_unknown);
  EXPECT_EQ(index->put_manifest(manifest("nope", "sha256:m", {}, {})).error_value().code, errc::name_unknown);
}

TEST_F(meta_index_test, blobs_are_visible_only_where_linked) {
  for (auto n : {"a", "b"}) ASSERT_TRUE(index->ensure_repository(n, 1));
  ASSERT_TRUE(index->record_blob("a", "sha256:1", 5, 1, nullptr));
  EXPECT_EQ(index->linked_blob_size("a", "sha256:1").value(), std::optional<std::int64_t>(5));
  EXPECT_EQ(index->linked_blob_size("b", "sha256:1").value(), std::nullopt);
  EXPECT_TRUE(index->mount_blob("b", "a", "sha256:1", 2).value());
  EXPECT_FALSE(index->mount_blob("c", "nope", "sha256:1", 2).value());
  EXPECT_EQ(index->linked_blob_size("b", "sha256:1").value(), std::optional<std::int64_t>(5));
  EXPECT_TRUE(index->unlink_blob("a", "sha256:1").value());
  EXPECT_FALSE(index->unlink_blob("a", "sha256:1").value());
  EXPECT_EQ(index->linked_blob_size("a", "sha256:1").value(), std::nullopt);
}

TEST_F(meta_index_test, manifest_needs_its_blobs_and_children) {
  ASSERT_TRUE(index->ensure_repository("r", 1));
  auto missing = index->put_manifest(manifest("r", "sha256:m", {"sha256:b"}, {"v1"}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error_value().code, errc::manifest_blob_unknown);
  EXPECT_EQ(index->manifest_by_tag("r", "v1").value(), std::nullopt);  // nothing half-written
  ASSERT_TRUE(index->record_blob("r", "sha256:b", 1, 1, nullptr));
  ASSERT_TRUE(index->put_manifest(manifest("r", "sha256:m", {"sha256:b"}, {"v1"})));
  auto byTag = index->manifest_by_tag("r", "v1").value();
  ASSERT_TRUE(byTag);
  EXPECT_EQ(byTag->digest, "sha256:m");
  auto idx = manifest("r", "sha256:i", {}, {"multi"});
  idx.manifest_refs = {"sha256:nope"};
  EXPECT_EQ(index->put_manifest(idx).error_value().code, errc::referenced_images_not_found);
  idx.manifest_refs = {"sha256:m"};
  EXPECT_TRUE(index->put_manifest(idx));
}

TEST_F(meta_index_test, tags_move_and_die_with_their_manifest) {
  ASSERT_TRUE(index->ensure_repository("r", 1));
  ASSERT_TRUE(index->put_manifest(manifest("r", "sha256:m1", {}, {"a", "b"})));
  ASSERT_TRUE(index->put_manifest(manifest("r", "sha256:m2", {}, {"b"})));
  EXPECT_EQ(index->manifest_by_tag("r", "b").value()->digest, "sha256:m2");
  EXPECT_EQ(index->list_tags("r", "", 10).value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(index->delete_manifest("r", "sha256:m1").value());
  EXPECT_EQ(index->list_tags("r", "", 10).value(), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(index->delete_tag("r", "b").value());
  EXPECT_FALSE(index->delete_tag("r", "b").value());
  EXPECT_TRUE(index->manifest_by_digest("r", "sha256:m2").value().has_value());
}

TEST_F(meta_index_test, pagination_is_bytewise_and_exclusive) {
  ASSERT_TRUE(index->ensure_repository("r", 1));
  std::vector<std::string> tags = {"b", "a", "C", "a1", "_z"};
  ASSERT_TRUE(index->put_manifest(manifest("r", "sha256:m", {}, tags)));
  EXPECT_EQ(index->list_tags("r", "", 100).value(), (std::vector<std::string>{"C", "_z", "a", "a1", "b"}));
  EXPECT_EQ(index->list_tags("r", "_z", 2).value(), (std::vector<std::string>{"a", "a1"}));
  for (auto n : {"x/y", "a", "m"}) ASSERT_TRUE(index->ensure_repository(n, 1));
  EXPECT_EQ(index->list_repositories("a", 10).value(), (std::vector<std::string>{"m", "r", "x/y"}));
}

TEST_F(meta_index_test, referrers_by_subject) {
  ASSERT_TRUE(index->ensure_repository("r", 1));
  auto w = manifest("r", "sha256:sig", {}, {});
  w.subject = "sha256:target";
  w.artifact_type = "application/x.sig";
  w.annotations = R"({"k":"v"})";
  ASSERT_TRUE(index->put_manifest(w));
  auto refs = index->referrers("r", "sha256:target").value();
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].artifact_type, "application/x.sig");
  EXPECT_EQ(refs[0].annotations, R"({"k":"v"})");
  EXPECT_TRUE(index->referrers("other", "sha256:target").value().empty());
}

TEST_F(meta_index_test, uploads_persist_across_reopen) {
  ASSERT_TRUE(index->ensure_repository("r", 1));
  ASSERT_TRUE(index->create_upload("u1", "r", 100));
  index.reset();
  auto reopened = sqlite_meta_index::open(dir.path() / "berth.db");
  ASSERT_TRUE(reopened);
  auto row = (*reopened)->find_upload("u1").value();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->repository, "r");
  EXPECT_EQ((*reopened)->uploads_idle_since(101).value().size(), 1u);
  EXPECT_EQ((*reopened)->uploads_idle_since(100).value().size(), 0u);
}

TEST_F(meta_index_test, repositories_settings_tags_and_delete) {
  repository_settings s;
  s.image_tag_mutability = "IMMUTABLE";
  ASSERT_TRUE(index->create_repository("x", s, {{"team", "a"}}, 5));
  EXPECT_EQ(index->create_repository("x", s, {}, 6).error_value().code, errc::repository_already_exists);
  auto row = index->find_repository("x").value();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->settings.image_tag_mutability, "IMMUTABLE");
  EXPECT_EQ(row->created_at, 5);
  ASSERT_TRUE(index->tag_repository("x", {{"env", "prod"}, {"team", "b"}}, 50));
  EXPECT_EQ(index->repository_tags("x").value(), (resource_tags{{"env", "prod"}, {"team", "b"}}));
  EXPECT_EQ(index->tag_repository("x", {{"k3", "v"}}, 2).error_value().code, errc::too_many_tags);
  ASSERT_TRUE(index->untag_repository("x", {"env"}));
  ASSERT_TRUE(index->put_manifest(manifest("x", "sha256:m", {}, {"v1"})));
  EXPECT_EQ(index->delete_repository("x", false).error_value().code, errc::repository_not_empty);
  ASSERT_TRUE(index->delete_repository("x", true));
  EXPECT_FALSE(index->find_repository("x").value());
  EXPECT_EQ(index->delete_repository("x", true).error_value().code, errc::name_unknown);
  // A new repository of the same name starts empty.
  ASSERT_TRUE(index->create_repository("x", s, {}, 7));
  EXPECT_TRUE(index->images("x").value().empty());
  EXPECT_TRUE(index->repository_tags("x").value().empty());
}

TEST_F(meta_index_test, upload_parts_remember_small_parts) {
  ASSERT_TRUE(index->ensure_repository("r", 1));
  ASSERT_TRUE(index->create_upload("u", "r", 1));
  EXPECT_FALSE(index->record_upload_part("u", 10, 5).value());
  EXPECT_FALSE(index->record_upload_part("u", 3, 5).value());  // small, but maybe the last
  EXPECT_TRUE(index->record_upload_part("u", 10, 5).value());  // it was not the last
  EXPECT_TRUE(index->upload_has_small_part("u").value());
}

TEST_F(meta_index_test, templates_and_account_settings) {
  ASSERT_TRUE(index->put_template({"ROOT", "{}", 1, 1}, true));
  EXPECT_EQ(index->put_template({"ROOT", "{}", 1, 1}, true).error_value().code, errc::template_already_exists);
  EXPECT_EQ(index->put_template({"x", "{}", 1, 1}, false).error_value().code, errc::template_not_found);
  ASSERT_TRUE(index->put_template({"ROOT", R"({"a":1})", 1, 2}, false));
  EXPECT_EQ(index->templates().value()[0].document, R"({"a":1})");
  EXPECT_TRUE(index->delete_template("ROOT").value());
  EXPECT_FALSE(index->delete_template("ROOT").value());
  EXPECT_FALSE(index->account_setting("BLOB_MOUNTING").value());
  ASSERT_TRUE(index->put_account_setting("BLOB_MOUNTING", "DISABLED"));
  EXPECT_EQ(index->account_setting("BLOB_MOUNTING").value(), std::optional<std::string>("DISABLED"));
}

// A burst of concurrent reads leaves one reader connection per concurrent lease; idle, the pool
// keeps only a few of them (each holds a page cache), and reads keep working afterwards.
TEST(connection_pool_test, idle_readers_are_closed_down_to_the_number_kept) {
  testing_support::temp_dir dir;
  auto pool = connection_pool::open((dir.path() / "pool.db").string());
  ASSERT_TRUE(pool);
  {
    std::vector<connection_pool::lease> held;
    for (int i = 0; i < 6; ++i) {
      auto l = (*pool)->reader();
      ASSERT_TRUE(l);
      held.push_back(std::move(l).value());
    }
  }
  EXPECT_EQ((*pool)->idle_readers(), 6u);
  (*pool)->close_idle_readers(2);
  EXPECT_EQ((*pool)->idle_readers(), 2u);
  for (int i = 0; i < 3; ++i) {
    auto l = (*pool)->reader();
    ASSERT_TRUE(l);
  }
}
