// The behaviour every metadata backend must have: one typed suite, instantiated per backend
// (sqlite_metadata_test.cpp; a server database instantiates it the same way). A backend type
// provides `std::unique_ptr<meta::metadata_store> open()`, reopening the same store on each call.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "berth/meta/metadata_store.hpp"
#include "berth/meta/migrations.hpp"

namespace berth::testing_support {

template <class Backend>
class metadata_suite : public ::testing::Test {
 protected:
  void SetUp() override {
    store = backend.open();
    ASSERT_TRUE(store);
  }
  void reopen() {
    store.reset();
    store = backend.open();
  }
  meta::metadata_store& m() { return *store; }

  void repo(const std::string& name) { ASSERT_TRUE(m().repositories().create(name, {}, {}, 1)); }
  void blob(const std::string& r, const std::string& digest, std::int64_t size = 1, std::int64_t now = 1) {
    ASSERT_TRUE(m().blobs().record(meta::blob_record{r, digest, size, now, ""}));
  }
  static meta::manifest_write manifest(const std::string& r, const std::string& digest, std::vector<std::string> blobs,
                                       std::vector<std::string> tags) {
    meta::manifest_write w;
    w.repository = r;
    w.digest = digest;
    w.media_type = "application/vnd.oci.image.manifest.v1+json";
    w.content = "{}";
    w.pushed_at = 10;
    w.blob_refs = std::move(blobs);
    w.tags = std::move(tags);
    return w;
  }
  static meta::deletion_claim by(const std::string& holder, std::int64_t now, std::int64_t until) {
    return meta::deletion_claim{holder, now, until};
  }

  Backend backend;
  std::unique_ptr<meta::metadata_store> store;
};

TYPED_TEST_SUITE_P(metadata_suite);

inline std::int64_t stats_depth(meta::metadata_store& m) { return m.statistics().queues().value().at(2).depth; }

TYPED_TEST_P(metadata_suite, writes_need_an_existing_repository) {
  auto& m = this->m();
  EXPECT_EQ(m.blobs().record(meta::blob_record{"nope", "sha256:1", 5, 1, ""}).error_value().code, errc::name_unknown);
  EXPECT_EQ(m.uploads().create("u", "nope", 1, 10, "e").error_value().code, errc::name_unknown);
  EXPECT_EQ(m.images().put_manifest(this->manifest("nope", "sha256:m", {}, {})).error_value().code, errc::name_unknown);
  EXPECT_EQ(m.lifecycle().put_policy("nope", "{}").error_value().code, errc::name_unknown);
  EXPECT_EQ(m.images().tags("nope", "", 10).error_value().code, errc::name_unknown);
  EXPECT_EQ(m.images().images("nope", meta::tag_filter::any, "", 10).error_value().code, errc::name_unknown);
}

TYPED_TEST_P(metadata_suite, blobs_are_visible_only_where_linked) {
  auto& m = this->m();
  this->repo("a");
  this->repo("b");
  this->blob("a", "sha256:1", 5);
  EXPECT_EQ(m.blobs().linked_size("a", "sha256:1").value(), std::optional<std::int64_t>(5));
  EXPECT_EQ(m.blobs().linked_size("b", "sha256:1").value(), std::nullopt);
  EXPECT_TRUE(m.blobs().mount("b", "a", "sha256:1", 2).value());
  EXPECT_FALSE(m.blobs().mount("c", "nope", "sha256:1", 2).value());
  EXPECT_EQ(m.blobs().linked_size("b", "sha256:1").value(), std::optional<std::int64_t>(5));
  EXPECT_TRUE(m.blobs().unlink("a", "sha256:1").value());
  EXPECT_FALSE(m.blobs().unlink("a", "sha256:1").value());
  EXPECT_EQ(m.blobs().linked_size("a", "sha256:1").value(), std::nullopt);
}

TYPED_TEST_P(metadata_suite, recording_a_blob_ends_its_upload_session) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.uploads().create("u1", "r", 1, 10, "e"));
  ASSERT_TRUE(m.blobs().record(meta::blob_record{"r", "sha256:1", 3, 2, "u1"}));
  EXPECT_FALSE(m.uploads().find("u1").value());
  EXPECT_EQ(m.blobs().linked_size("r", "sha256:1").value(), std::optional<std::int64_t>(3));
}

TYPED_TEST_P(metadata_suite, manifest_needs_its_blobs_and_children) {
  auto& m = this->m();
  this->repo("r");
  auto missing = m.images().put_manifest(this->manifest("r", "sha256:m", {"sha256:b"}, {"v1"}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error_value().code, errc::manifest_blob_unknown);
  EXPECT_EQ(std::get<digest_detail>(missing.error_value().detail).digest, "sha256:b");
  EXPECT_EQ(m.images().manifest_by_tag("r", "v1").value(), std::nullopt);  // nothing half-written
  this->blob("r", "sha256:b");
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m", {"sha256:b"}, {"v1"})));
  auto by_tag = m.images().manifest_by_tag("r", "v1").value();
  ASSERT_TRUE(by_tag);
  EXPECT_EQ(by_tag->digest, "sha256:m");
  auto idx = this->manifest("r", "sha256:i", {}, {"multi"});
  idx.manifest_refs = {"sha256:nope"};
  EXPECT_EQ(m.images().put_manifest(idx).error_value().code, errc::referenced_images_not_found);
  idx.manifest_refs = {"sha256:m"};
  EXPECT_TRUE(m.images().put_manifest(idx));
  EXPECT_EQ(m.images().parent_indexes("r", "sha256:m").value(), std::vector<std::string>{"sha256:i"});
}

TYPED_TEST_P(metadata_suite, tags_move_and_die_with_their_manifest) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m1", {}, {"a", "b"})));
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m2", {}, {"b"})));
  EXPECT_EQ(m.images().manifest_by_tag("r", "b").value()->digest, "sha256:m2");
  EXPECT_EQ(m.images().tags("r", "", 10).value(), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(m.images().delete_image("r", "sha256:m1", ""));
  EXPECT_EQ(m.images().tags("r", "", 10).value(), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(m.images().delete_tag("r", "b").value());
  EXPECT_FALSE(m.images().delete_tag("r", "b").value());
  EXPECT_TRUE(m.images().manifest_by_digest("r", "sha256:m2").value().has_value());
}

TYPED_TEST_P(metadata_suite, immutable_tags_never_move_and_unchanged_pushes_can_be_refused) {
  auto& m = this->m();
  this->repo("r");
  auto first = this->manifest("r", "sha256:m1", {}, {"v1"});
  first.immutable_tags = {"v1"};
  ASSERT_TRUE(m.images().put_manifest(first));
  ASSERT_TRUE(m.images().put_manifest(first));  // the same digest: not a move
  auto moved = this->manifest("r", "sha256:m2", {}, {"v1"});
  moved.immutable_tags = {"v1"};
  auto r = m.images().put_manifest(moved);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_value().code, errc::tag_immutable);
  EXPECT_EQ(std::get<tag_detail>(r.error_value().detail).tag, "v1");
  EXPECT_EQ(m.images().manifest_by_tag("r", "v1").value()->digest, "sha256:m1");
  EXPECT_FALSE(m.images().manifest_by_digest("r", "sha256:m2").value());  // nothing half-written
  auto again = first;
  again.reject_unchanged = true;
  EXPECT_EQ(m.images().put_manifest(again).error_value().code, errc::image_already_exists);
  auto untagged = this->manifest("r", "sha256:m1", {}, {});
  untagged.reject_unchanged = true;
  EXPECT_EQ(m.images().put_manifest(untagged).error_value().code, errc::image_already_exists);
  auto other_tag = this->manifest("r", "sha256:m1", {}, {"v2"});
  other_tag.reject_unchanged = true;
  EXPECT_TRUE(m.images().put_manifest(other_tag));
}

TYPED_TEST_P(metadata_suite, delete_image_is_one_rule) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m", {}, {"a", "b"})));
  auto idx = this->manifest("r", "sha256:i", {}, {"multi"});
  idx.manifest_refs = {"sha256:m"};
  ASSERT_TRUE(m.images().put_manifest(idx));
  EXPECT_EQ(m.images().delete_image("r", "sha256:nope", "").error_value().code, errc::image_not_found);
  EXPECT_EQ(m.images().delete_image("r", "", "nope").error_value().code, errc::image_not_found);
  EXPECT_EQ(m.images().delete_image("r", "sha256:m", "multi").error_value().code, errc::image_digest_mismatch);
  EXPECT_EQ(m.images().delete_image("nope", "sha256:m", "").error_value().code, errc::name_unknown);
  // Not its last tag: only the tag goes, even though an index lists the image.
  auto one = m.images().delete_image("r", "", "a");
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, (std::vector<meta::image_ref>{{"sha256:m", "a"}}));
  // Its last tag, or by digest: the index protects it.
  auto refused = m.images().delete_image("r", "", "b");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error_value().code, errc::image_referenced_by_index);
  EXPECT_EQ(std::get<digest_detail>(refused.error_value().detail).digest, "sha256:i");
  EXPECT_EQ(m.images().manifest_by_tag("r", "b").value()->digest, "sha256:m");
  EXPECT_EQ(*m.images().delete_image("r", "sha256:i", ""), (std::vector<meta::image_ref>{{"sha256:i", "multi"}}));
  EXPECT_EQ(*m.images().delete_image("r", "", "b"), (std::vector<meta::image_ref>{{"sha256:m", "b"}}));
  EXPECT_FALSE(m.images().manifest_by_digest("r", "sha256:m").value());
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:u", {}, {})));
  EXPECT_EQ(*m.images().delete_image("r", "sha256:u", ""), (std::vector<meta::image_ref>{{"sha256:u", ""}}));
}

TYPED_TEST_P(metadata_suite, pagination_is_bytewise_and_exclusive) {
  auto& m = this->m();
  this->repo("r");
  std::vector<std::string> tags = {"b", "a", "C", "a1", "_z"};
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m", {}, tags)));
  EXPECT_EQ(m.images().tags("r", "", 100).value(), (std::vector<std::string>{"C", "_z", "a", "a1", "b"}));
  EXPECT_EQ(m.images().tags("r", "_z", 2).value(), (std::vector<std::string>{"a", "a1"}));
  for (auto n : {"x/y", "a", "m"}) this->repo(n);
  EXPECT_EQ(m.repositories().names("a", 10).value(), (std::vector<std::string>{"m", "r", "x/y"}));
  auto rows = m.repositories().list("m", 1).value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "r");
}

TYPED_TEST_P(metadata_suite, images_page_by_digest_with_a_tag_filter) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:a", {}, {"t2", "t1"})));
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:b", {}, {})));
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:c", {}, {"t3"})));
  auto digests = [](const std::vector<meta::image_row>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.digest);
    return out;
  };
  auto all = m.images().images("r", meta::tag_filter::any, "", 10).value();
  EXPECT_EQ(digests(all), (std::vector<std::string>{"sha256:a", "sha256:b", "sha256:c"}));
  EXPECT_EQ(all[0].tags, (std::vector<std::string>{"t1", "t2"}));
  EXPECT_TRUE(all[1].tags.empty());
  EXPECT_EQ(digests(m.images().images("r", meta::tag_filter::any, "sha256:a", 1).value()),
            std::vector<std::string>{"sha256:b"});
  EXPECT_EQ(digests(m.images().images("r", meta::tag_filter::tagged, "", 10).value()),
            (std::vector<std::string>{"sha256:a", "sha256:c"}));
  EXPECT_EQ(digests(m.images().images("r", meta::tag_filter::untagged, "", 10).value()),
            std::vector<std::string>{"sha256:b"});
  // ListImages pairs: (digest, tag), the untagged image once with "".
  auto refs = m.images().image_refs("r", meta::tag_filter::any, {}, 10).value();
  EXPECT_EQ(refs, (std::vector<meta::image_ref>{
                      {"sha256:a", "t1"}, {"sha256:a", "t2"}, {"sha256:b", ""}, {"sha256:c", "t3"}}));
  EXPECT_EQ(m.images().image_refs("r", meta::tag_filter::any, {"sha256:a", "t1"}, 2).value(),
            (std::vector<meta::image_ref>{{"sha256:a", "t2"}, {"sha256:b", ""}}));
  EXPECT_EQ(m.images().image_refs("r", meta::tag_filter::untagged, {}, 10).value(),
            (std::vector<meta::image_ref>{{"sha256:b", ""}}));
  EXPECT_EQ(m.images().image_refs("r", meta::tag_filter::tagged, {"sha256:a", "t2"}, 10).value(),
            (std::vector<meta::image_ref>{{"sha256:c", "t3"}}));
  // One image by digest and/or tag.
  EXPECT_EQ(m.images().find_image("r", "", "t2").value()->digest, "sha256:a");
  EXPECT_EQ(m.images().find_image("r", "sha256:c", "t3").value()->digest, "sha256:c");
  EXPECT_FALSE(m.images().find_image("r", "sha256:c", "t1").value());
  EXPECT_FALSE(m.images().find_image("r", "", "").value());
  EXPECT_FALSE(m.images().find_image("r", "sha256:zz", "").value());
}

TYPED_TEST_P(metadata_suite, referrers_by_subject) {
  auto& m = this->m();
  this->repo("r");
  auto w = this->manifest("r", "sha256:sig", {}, {});
  w.subject = "sha256:target";
  w.artifact_type = "application/x.sig";
  w.annotations = R"({"k":"v"})";
  ASSERT_TRUE(m.images().put_manifest(w));
  auto refs = m.images().referrers("r", "sha256:target").value();
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].artifact_type, "application/x.sig");
  EXPECT_EQ(refs[0].annotations, R"({"k":"v"})");
  EXPECT_TRUE(m.images().referrers("other", "sha256:target").value().empty());
}

TYPED_TEST_P(metadata_suite, pulls_and_storage_classes) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m", {}, {"v1"})));
  ASSERT_TRUE(m.images().record_pulls({{"r", "sha256:m"}, {"r", "sha256:gone"}}, 50));
  EXPECT_EQ(m.images().find_image("r", "sha256:m", "").value()->last_pulled_at, 50);
  EXPECT_TRUE(m.images().set_storage_class("r", "sha256:m", true, 60).value());
  EXPECT_TRUE(m.images().manifest_by_tag("r", "v1").value()->archived);
  auto archived = m.images().find_image("r", "sha256:m", "").value();
  EXPECT_TRUE(archived->archived);
  EXPECT_EQ(archived->last_archived_at, 60);
  EXPECT_TRUE(m.images().set_storage_class("r", "sha256:m", false, 70).value());
  EXPECT_EQ(m.images().find_image("r", "sha256:m", "").value()->last_activated_at, 70);
  EXPECT_FALSE(m.images().set_storage_class("r", "sha256:x", true, 80).value());
}

TYPED_TEST_P(metadata_suite, uploads_persist_with_their_checkpoint) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.uploads().create("u1", "r", 100, 10, "epoch-1"));
  auto fresh = m.uploads().find("u1").value();
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->size, 0u);
  EXPECT_EQ(fresh->store_epoch, "epoch-1");
  ASSERT_TRUE(m.uploads().claim("u1", "w", 100, 200));
  std::string state("\x01\x00\xff state", 9);  // bytes, not text
  ASSERT_TRUE(m.uploads().checkpoint(meta::upload_checkpoint{"u1", "w", 42, state, "epoch-2", 150, {}, 0}));
  m.uploads().release("u1", "w");
  this->reopen();
  auto row = this->m().uploads().find("u1").value();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->repository, "r");
  EXPECT_EQ(row->size, 42u);
  EXPECT_EQ(row->hash_state, state);
  EXPECT_EQ(row->store_epoch, "epoch-2");
  EXPECT_EQ(this->m().uploads().idle_since(151, 300).value().size(), 1u);
  EXPECT_EQ(this->m().uploads().idle_since(150, 300).value().size(), 0u);
  EXPECT_EQ(this->m().uploads().ids().value(), std::vector<std::string>{"u1"});
  ASSERT_TRUE(this->m().uploads().remove("u1"));
  EXPECT_FALSE(this->m().uploads().find("u1").value());
  EXPECT_EQ(this->m().uploads().checkpoint(meta::upload_checkpoint{"u1", "w", 1, "", "", 1, {}, 0}).error_value().code,
            errc::blob_upload_unknown);
}

TYPED_TEST_P(metadata_suite, one_writer_per_upload_until_its_claim_expires) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.uploads().create("u", "r", 1, 10, "e"));
  EXPECT_EQ(m.uploads().claim("nope", "a", 10, 20).error_value().code, errc::blob_upload_unknown);
  ASSERT_TRUE(m.uploads().claim("u", "a", 10, 20));
  EXPECT_EQ(m.uploads().claim("u", "b", 11, 21).error_value().code, errc::busy);
  EXPECT_TRUE(m.uploads().claim("u", "a", 12, 22));  // a renews its own claim
  EXPECT_EQ(m.uploads().checkpoint(meta::upload_checkpoint{"u", "b", 5, "", "e", 13, {}, 0}).error_value().code,
            errc::busy);
  EXPECT_TRUE(m.uploads().idle_since(100, 13).value().empty());   // claimed: not idle
  EXPECT_EQ(m.uploads().idle_since(100, 30).value().size(), 1u);  // the claim has expired
  EXPECT_TRUE(m.uploads().claim("u", "b", 23, 40));               // a stopped renewing: b takes over
  m.uploads().release("u", "a");                                  // a stale release changes nothing
  EXPECT_EQ(m.uploads().claim("u", "a", 24, 44).error_value().code, errc::busy);
  m.uploads().release("u", "b");
  EXPECT_TRUE(m.uploads().claim("u", "a", 25, 45));
  // A server that died mid-request: its successor frees its claims at once, and only its.
  ASSERT_TRUE(m.uploads().create("v", "r", 1, 10, "e"));
  // Renewal extends a live claim of its writer and never takes one back after a release.
  ASSERT_TRUE(m.uploads().create("w", "r", 25, 10, "e"));
  ASSERT_TRUE(m.uploads().claim("w", "r", 25, 30));
  EXPECT_TRUE(m.uploads().renew("w", "r", 60).value());
  EXPECT_EQ(m.uploads().claim("w", "s", 40, 50).error_value().code, errc::busy);  // renewed past 40
  m.uploads().release("w", "r");
  EXPECT_FALSE(m.uploads().renew("w", "r", 90).value());
  EXPECT_TRUE(m.uploads().claim("w", "s", 41, 50));
  EXPECT_FALSE(m.uploads().renew("w", "r", 90).value());  // s's now: r's renewal changes nothing
  EXPECT_EQ(m.uploads().claim("w", "r", 42, 50).error_value().code, errc::busy);
  ASSERT_TRUE(m.uploads().claim("v", "srv1 w/1", 26, 100));
  ASSERT_TRUE(m.uploads().claim("u", "srv2 w/1", 46, 100));
  ASSERT_TRUE(m.uploads().release_claims_of("srv1 "));
  EXPECT_TRUE(m.uploads().claim("v", "srv1 x/1", 27, 100));
  EXPECT_EQ(m.uploads().claim("u", "srv1 x/2", 27, 100).error_value().code, errc::busy);
}

TYPED_TEST_P(metadata_suite, upload_sessions_per_repository_are_bounded) {
  auto& m = this->m();
  this->repo("r");
  this->repo("s");
  ASSERT_TRUE(m.uploads().create("u1", "r", 1, 2, "e"));
  ASSERT_TRUE(m.uploads().create("u2", "r", 1, 2, "e"));
  EXPECT_EQ(m.uploads().create("u3", "r", 1, 2, "e").error_value().code, errc::too_many_requests);
  EXPECT_TRUE(m.uploads().create("u3", "s", 1, 2, "e"));
}

TYPED_TEST_P(metadata_suite, upload_parts_remember_small_parts) {
  auto& m = this->m();
  this->repo("r");
  ASSERT_TRUE(m.uploads().create("u", "r", 1, 10, "e"));
  auto part = [&](std::int64_t size, std::uint64_t total) {
    return m.uploads().checkpoint(meta::upload_checkpoint{"u", "w", total, "", "e", 2, size, 5});
  };
  ASSERT_TRUE(part(10, 10));
  EXPECT_FALSE(m.uploads().find("u").value()->small_part_followed);
  ASSERT_TRUE(part(3, 13));  // small, but maybe the last
  EXPECT_FALSE(m.uploads().find("u").value()->small_part_followed);
  ASSERT_TRUE(part(10, 23));  // it was not the last
  EXPECT_TRUE(m.uploads().find("u").value()->small_part_followed);
}

TYPED_TEST_P(metadata_suite, repositories_settings_tags_and_delete) {
  auto& m = this->m();
  meta::repository_settings s;
  s.image_tag_mutability = "IMMUTABLE";
  ASSERT_TRUE(m.repositories().create("x", s, {{"team", "a"}}, 5));
  EXPECT_EQ(m.repositories().create("x", s, {}, 6).error_value().code, errc::repository_already_exists);
  auto row = m.repositories().find("x").value();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->settings.image_tag_mutability, "IMMUTABLE");
  EXPECT_EQ(row->created_at, 5);
  s.scan_on_push = true;
  ASSERT_TRUE(m.repositories().update_settings("x", s));
  EXPECT_TRUE(m.repositories().find("x").value()->settings.scan_on_push);
  EXPECT_EQ(m.repositories().update_settings("y", s).error_value().code, errc::name_unknown);
  ASSERT_TRUE(m.repositories().tag("x", {{"env", "prod"}, {"team", "b"}}, 50));
  EXPECT_EQ(m.repositories().tags("x").value(), (meta::resource_tags{{"env", "prod"}, {"team", "b"}}));
  EXPECT_EQ(m.repositories().tag("x", {{"k3", "v"}}, 2).error_value().code, errc::too_many_tags);
  EXPECT_EQ(m.repositories().tags("x").value().size(), 2u);  // nothing changed
  ASSERT_TRUE(m.repositories().untag("x", {"env"}));
  ASSERT_TRUE(m.images().put_manifest(this->manifest("x", "sha256:m", {}, {"v1"})));
  EXPECT_EQ(m.repositories().remove("x", false).error_value().code, errc::repository_not_empty);
  ASSERT_TRUE(m.repositories().remove("x", true));
  EXPECT_FALSE(m.repositories().find("x").value());
  EXPECT_EQ(m.repositories().remove("x", true).error_value().code, errc::name_unknown);
  // A new repository of the same name starts empty.
  ASSERT_TRUE(m.repositories().create("x", s, {}, 7));
  EXPECT_TRUE(m.images().images("x", meta::tag_filter::any, "", 10).value().empty());
  EXPECT_TRUE(m.repositories().tags("x").value().empty());
}

TYPED_TEST_P(metadata_suite, templates_and_account_settings) {
  auto& m = this->m();
  ASSERT_TRUE(m.settings().put_template({"ROOT", "{}", 1, 1}, true));
  EXPECT_EQ(m.settings().put_template({"ROOT", "{}", 1, 1}, true).error_value().code, errc::template_already_exists);
  EXPECT_EQ(m.settings().put_template({"x", "{}", 1, 1}, false).error_value().code, errc::template_not_found);
  ASSERT_TRUE(m.settings().put_template({"ROOT", R"({"a":1})", 1, 2}, false));
  EXPECT_EQ(m.settings().templates().value()[0].document, R"({"a":1})");
  EXPECT_TRUE(m.settings().delete_template("ROOT").value());
  EXPECT_FALSE(m.settings().delete_template("ROOT").value());
  EXPECT_FALSE(m.settings().account_setting("BLOB_MOUNTING").value());
  ASSERT_TRUE(m.settings().put_account_setting("BLOB_MOUNTING", "DISABLED"));
  EXPECT_EQ(m.settings().account_setting("BLOB_MOUNTING").value(), std::optional<std::string>("DISABLED"));
}

TYPED_TEST_P(metadata_suite, lifecycle_policies_and_previews) {
  auto& m = this->m();
  this->repo("r");
  EXPECT_FALSE(m.lifecycle().policy("r").value());
  ASSERT_TRUE(m.lifecycle().put_policy("r", "p1"));
  ASSERT_TRUE(m.lifecycle().mark_evaluated("r", 9));
  EXPECT_EQ(m.lifecycle().policy("r").value()->last_evaluated_at, 9);
  EXPECT_EQ(m.lifecycle().repositories_with_policy().value(), std::vector<std::string>{"r"});
  EXPECT_EQ(m.lifecycle().delete_policy("r").value()->text, "p1");
  EXPECT_FALSE(m.lifecycle().delete_policy("r").value());
  ASSERT_TRUE(m.lifecycle().start_preview("r", "p2", 100, 0));
  EXPECT_EQ(m.lifecycle().start_preview("r", "p3", 101, 0).error_value().code, errc::limit_exceeded);
  EXPECT_TRUE(m.lifecycle().start_preview("r", "p3", 800, 200));  // the first one is stale
  ASSERT_TRUE(m.lifecycle().finish_preview("r", "COMPLETE", "[1]"));
  auto p = m.lifecycle().preview("r").value();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->text, "p3");
  EXPECT_EQ(p->status, "COMPLETE");
  EXPECT_EQ(p->results, "[1]");
  EXPECT_EQ(m.lifecycle().preview("nope").error_value().code, errc::name_unknown);
}

// A blob marked by garbage collection is invisible, and nothing can use it until the removal is over.
TYPED_TEST_P(metadata_suite, a_marked_blob_is_used_by_nothing) {
  auto& m = this->m();
  this->repo("r");
  this->repo("s");
  this->blob("r", "sha256:b", 7, 10);
  EXPECT_FALSE(m.maintenance().begin_delete("sha256:b", 9, this->by("gc", 20, 80)).value());  // linked after
  ASSERT_TRUE(m.maintenance().begin_delete("sha256:b", 10, this->by("gc", 20, 80)).value());
  EXPECT_FALSE(m.maintenance().begin_delete("sha256:b", 10, this->by("gc2", 20, 80)).value());  // one holder
  EXPECT_EQ(m.blobs().linked_size("r", "sha256:b").value(), std::nullopt);
  EXPECT_FALSE(m.blobs().mount("s", "r", "sha256:b", 21).value());
  EXPECT_EQ(m.images().put_manifest(this->manifest("r", "sha256:m", {"sha256:b"}, {})).error_value().code,
            errc::manifest_blob_unknown);
  EXPECT_EQ(m.blobs().record(meta::blob_record{"r", "sha256:b", 7, 21, ""}).error_value().code, errc::busy);
  EXPECT_TRUE(m.maintenance().unreferenced_blobs(100, "", 10).value().empty());
  EXPECT_TRUE(m.maintenance().blobs("", 10).value().empty());
  EXPECT_TRUE(m.maintenance().find_blob("sha256:b").value()->deleting);
  EXPECT_TRUE(m.maintenance().abandoned_deletions(50).value().empty());
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:b", "someone else"));  // not theirs: nothing
  EXPECT_TRUE(m.maintenance().find_blob("sha256:b").value());
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:b", "gc"));
  EXPECT_FALSE(m.maintenance().find_blob("sha256:b").value());
  // The next commit of the same digest records it afresh.
  ASSERT_TRUE(m.blobs().record(meta::blob_record{"r", "sha256:b", 7, 30, ""}));
  EXPECT_EQ(m.blobs().linked_size("r", "sha256:b").value(), std::optional<std::int64_t>(7));
}

TYPED_TEST_P(metadata_suite, only_unreferenced_old_blobs_can_be_marked) {
  auto& m = this->m();
  this->repo("r");
  this->blob("r", "sha256:used", 1, 10);
  this->blob("r", "sha256:lonely", 2, 10);
  this->blob("r", "sha256:young", 3, 50);
  ASSERT_TRUE(m.images().put_manifest(this->manifest("r", "sha256:m", {"sha256:used"}, {"v1"})));
  auto candidates = m.maintenance().unreferenced_blobs(20, "", 10).value();
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].digest, "sha256:lonely");
  EXPECT_FALSE(m.maintenance().begin_delete("sha256:used", 20, this->by("gc", 30, 90)).value());
  EXPECT_FALSE(m.maintenance().begin_delete("sha256:young", 20, this->by("gc", 30, 90)).value());
  // Paging by digest.
  auto first = m.maintenance().unreferenced_blobs(100, "", 1).value();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(m.maintenance().unreferenced_blobs(100, first[0].digest, 10).value().size(), 1u);
}

TYPED_TEST_P(metadata_suite, an_abandoned_mark_is_taken_over) {
  auto& m = this->m();
  this->repo("r");
  this->blob("r", "sha256:b", 1, 10);
  ASSERT_TRUE(m.maintenance().begin_delete("sha256:b", 10, this->by("dead", 20, 30)).value());
  EXPECT_FALSE(m.maintenance().take_over_delete("sha256:b", this->by("rescuer", 25, 100)).value());  // still live
  EXPECT_EQ(m.maintenance().abandoned_deletions(31).value(), std::vector<std::string>{"sha256:b"});
  EXPECT_TRUE(m.maintenance().take_over_delete("sha256:b", this->by("rescuer", 31, 100)).value());
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:b", "dead"));  // the old holder has no say
  EXPECT_TRUE(m.maintenance().find_blob("sha256:b").value());
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:b", "rescuer"));
  EXPECT_FALSE(m.maintenance().find_blob("sha256:b").value());
}

TYPED_TEST_P(metadata_suite, an_unrecorded_blob_file_is_marked_before_removal) {
  auto& m = this->m();
  this->repo("r");
  this->blob("r", "sha256:known", 1, 10);
  EXPECT_FALSE(m.maintenance().begin_delete_unrecorded("sha256:known", this->by("gc", 20, 80)).value());
  ASSERT_TRUE(m.maintenance().begin_delete_unrecorded("sha256:orphan", this->by("gc", 20, 80)).value());
  // A commit of that digest waits until the file is gone.
  EXPECT_EQ(m.blobs().record(meta::blob_record{"r", "sha256:orphan", 1, 21, ""}).error_value().code, errc::busy);
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:orphan", "gc"));
  EXPECT_TRUE(m.blobs().record(meta::blob_record{"r", "sha256:orphan", 1, 22, ""}));
}

// A commit announces the digest it is about to write; a removal and the announcement exclude each
// other, whichever comes first (a removal that had begun could move the bytes the commit writes).
TYPED_TEST_P(metadata_suite, a_commit_in_progress_and_a_removal_exclude_each_other) {
  auto& m = this->m();
  this->repo("r");
  this->blob("r", "sha256:old", 1, 10);
  ASSERT_TRUE(m.uploads().create("u", "r", 20, 10, "e"));
  EXPECT_EQ(m.uploads().reserve_commit("nope", "sha256:old", 100).error_value().code, errc::blob_upload_unknown);
  ASSERT_TRUE(m.uploads().reserve_commit("u", "sha256:old", 100));
  EXPECT_FALSE(m.maintenance().begin_delete("sha256:old", 10, this->by("gc", 30, 90)).value());
  ASSERT_TRUE(m.uploads().reserve_commit("u", "sha256:new", 100));  // the session now writes another digest
  EXPECT_FALSE(m.maintenance().begin_delete_unrecorded("sha256:new", this->by("gc", 30, 90)).value());
  // An announcement that lapsed (its server died mid-commit) holds nothing back.
  EXPECT_TRUE(m.maintenance().begin_delete_unrecorded("sha256:new", this->by("gc", 101, 160)).value());
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:new", "gc"));
  // A removal under way refuses the announcement until it is over.
  ASSERT_TRUE(m.maintenance().begin_delete("sha256:old", 10, this->by("gc", 30, 90)).value());
  EXPECT_EQ(m.uploads().reserve_commit("u", "sha256:old", 100).error_value().code, errc::busy);
  ASSERT_TRUE(m.maintenance().finish_delete("sha256:old", "gc"));
  ASSERT_TRUE(m.uploads().reserve_commit("u", "sha256:old", 100));
  // Recording the blob ends the session, and with it the announcement.
  ASSERT_TRUE(m.blobs().record(meta::blob_record{"r", "sha256:old", 1, 40, "u"}));
  EXPECT_TRUE(m.maintenance().begin_delete("sha256:old", 50, this->by("gc", 60, 90)).value());
}

TYPED_TEST_P(metadata_suite, fsck_and_usage_page_through_everything) {
  auto& m = this->m();
  this->repo("a");
  this->repo("b");
  this->blob("a", "sha256:1", 10);
  this->blob("b", "sha256:2", 20);
  ASSERT_TRUE(m.images().put_manifest(this->manifest("a", "sha256:m", {"sha256:1"}, {"v1"})));
  ASSERT_TRUE(m.images().put_manifest(this->manifest("b", "sha256:m", {"sha256:2"}, {})));
  auto blobs = m.maintenance().blobs("", 1).value();
  ASSERT_EQ(blobs.size(), 1u);
  EXPECT_EQ(blobs[0].digest, "sha256:1");
  EXPECT_EQ(m.maintenance().blobs("sha256:1", 5).value().size(), 1u);
  auto refs = m.maintenance().references({}, 1).value();
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].repository, "a");
  auto rest = m.maintenance().references(refs[0], 10).value();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].repository, "b");
  EXPECT_EQ(rest[0].child, "sha256:2");
  auto usage = m.maintenance().usage("", 10).value();
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0].repository, "a");
  EXPECT_EQ(usage[0].images, 1);
  EXPECT_EQ(usage[0].tags, 1);
  EXPECT_EQ(usage[0].referenced_bytes, 10);
  EXPECT_EQ(m.maintenance().usage("a", 10).value().size(), 1u);
}

TYPED_TEST_P(metadata_suite, leases_have_one_holder_at_a_time) {
  auto& m = this->m();
  EXPECT_TRUE(m.leases().acquire("gc", "a", 100, 200).value());
  EXPECT_FALSE(m.leases().acquire("gc", "b", 150, 250).value());
  EXPECT_TRUE(m.leases().acquire("gc", "a", 190, 290).value());  // renewed
  EXPECT_FALSE(m.leases().acquire("gc", "b", 250, 350).value());
  EXPECT_TRUE(m.leases().acquire("lifecycle", "b", 250, 350).value());  // leases are independent
  EXPECT_TRUE(m.leases().acquire("gc", "b", 290, 390).value());         // a's lease expired
  ASSERT_TRUE(m.leases().release("gc", "a"));                           // not a's any more: nothing
  EXPECT_FALSE(m.leases().acquire("gc", "a", 300, 400).value());
  ASSERT_TRUE(m.leases().release("gc", "b"));
  EXPECT_TRUE(m.leases().acquire("gc", "a", 301, 401).value());
}

TYPED_TEST_P(metadata_suite, secrets_keep_the_first_value) {
  auto& m = this->m();
  EXPECT_FALSE(m.secrets().get("k").value());
  const std::string key("\0\x01\xfe key", 7);
  EXPECT_EQ(m.secrets().put_if_absent("k", key, 1).value(), key);
  EXPECT_EQ(m.secrets().put_if_absent("k", "other", 2).value(), key);  // a second server agrees
  this->reopen();
  EXPECT_EQ(this->m().secrets().get("k").value(), std::optional<std::string>(key));
}

TYPED_TEST_P(metadata_suite, users_keys_and_policies_follow_iam_rules) {
  auto& ids = this->m().identities();
  auto g0 = ids.generation().value();
  ASSERT_TRUE(ids.create_user(meta::user_row{"Deploy", "/ci/", "AIDAEXAMPLE1", 5, false}));
  EXPECT_GT(ids.generation().value(), g0);
  EXPECT_EQ(ids.create_user(meta::user_row{"deploy", "/", "AIDAEXAMPLE2", 6, false}).error_value().code,
            errc::entity_already_exists);  // names are unique in any case
  auto found = ids.find_user("DEPLOY").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "Deploy");
  EXPECT_EQ(found->path, "/ci/");
  ASSERT_TRUE(ids.create_user(meta::user_row{"ci", "/", "AIDAEXAMPLE3", 7, true}));
  EXPECT_EQ(ids.list_users("/", "", 10).value().size(), 2u);
  EXPECT_EQ(ids.list_users("/ci/", "", 10).value().size(), 1u);
  auto page = ids.list_users("/", "Deploy", 10).value();
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "ci");
  EXPECT_TRUE(page[0].basic_pull);

  ASSERT_TRUE(ids.create_access_key(meta::access_key_row{"AKIA1", "deploy", "sealed1", "Active", 8}, 2));
  ASSERT_TRUE(ids.create_access_key(meta::access_key_row{"AKIA2", "Deploy", "sealed2", "Active", 9}, 2));
  auto over = ids.create_access_key(meta::access_key_row{"AKIA3", "Deploy", "s", "Active", 9}, 2);
  EXPECT_EQ(over.error_value().code, errc::limit_exceeded);
  EXPECT_EQ(over.error_value().message, "Cannot exceed quota for AccessKeysPerUser: 2");
  EXPECT_EQ(ids.create_access_key(meta::access_key_row{"AKIA4", "nobody", "s", "Active", 9}, 2).error_value().code,
            errc::no_such_entity);
  auto key = ids.find_access_key("AKIA2").value();
  ASSERT_TRUE(key);
  EXPECT_EQ(key->user_name, "Deploy");
  EXPECT_EQ(key->sealed_secret, "sealed2");
  ASSERT_TRUE(ids.set_access_key_status("deploy", "AKIA2", "Inactive"));
  EXPECT_EQ(ids.find_access_key("AKIA2").value()->status, "Inactive");
  EXPECT_EQ(ids.set_access_key_status("ci", "AKIA2", "Active").error_value().code, errc::no_such_entity);
  EXPECT_EQ(ids.access_keys("Deploy").value().size(), 2u);

  const std::string doc = R"({"Version":"2012-10-17","Statement":[]})";
  EXPECT_EQ(ids.put_policy("user", "nobody", {"p", doc}).error_value().code, errc::no_such_entity);
  ASSERT_TRUE(ids.put_policy("user", "Deploy", {"pull", doc}));
  ASSERT_TRUE(ids.put_policy("user", "Deploy", {"pull", doc + " "}));  // replaced
  EXPECT_EQ(ids.get_policy("user", "deploy", "pull").value().document, doc + " ");
  EXPECT_EQ(ids.get_policy("user", "deploy", "push").error_value().code, errc::no_such_entity);
  EXPECT_EQ(ids.policy_names("user", "Deploy").value(), std::vector<std::string>{"pull"});

  ASSERT_TRUE(ids.create_group(meta::group_row{"Builders", "/", "AGPA1", 10}));
  EXPECT_EQ(ids.create_group(meta::group_row{"builders", "/", "AGPA2", 10}).error_value().code,
            errc::entity_already_exists);
  ASSERT_TRUE(ids.put_policy("group", "builders", {"push", "{}"}));
  ASSERT_TRUE(ids.add_user_to_group("builders", "deploy"));
  EXPECT_EQ(ids.policies_of_user("deploy").value().size(), 2u);
  EXPECT_EQ(ids.groups_of_user("deploy").value().size(), 1u);
  EXPECT_EQ(ids.users_of_group("Builders").value().size(), 1u);
  EXPECT_EQ(ids.delete_group("builders").error_value().code, errc::delete_conflict);

  // IAM's order: keys, then policies, then groups.
  EXPECT_EQ(ids.delete_user("deploy").error_value().message, "Cannot delete entity, must delete access keys first.");
  ASSERT_TRUE(ids.delete_access_key("deploy", "AKIA1"));
  ASSERT_TRUE(ids.delete_access_key("deploy", "AKIA2"));
  EXPECT_EQ(ids.delete_access_key("deploy", "AKIA2").error_value().code, errc::no_such_entity);
  EXPECT_FALSE(ids.find_access_key("AKIA1").value());
  EXPECT_EQ(ids.delete_user("deploy").error_value().message, "Cannot delete entity, must delete policies first.");
  ASSERT_TRUE(ids.delete_policy("user", "deploy", "pull"));
  EXPECT_EQ(ids.delete_user("deploy").error_value().code, errc::delete_conflict);
  ASSERT_TRUE(ids.remove_user_from_group("builders", "deploy"));
  ASSERT_TRUE(ids.delete_user("deploy"));
  EXPECT_EQ(ids.delete_user("deploy").error_value().code, errc::no_such_entity);
  ASSERT_TRUE(ids.delete_policy("group", "builders", "push"));
  ASSERT_TRUE(ids.delete_group("builders"));
  this->reopen();
  EXPECT_TRUE(this->m().identities().find_user("ci").value());
}

TYPED_TEST_P(metadata_suite, resource_policies_and_pull_exclusions) {
  auto& ids = this->m().identities();
  EXPECT_EQ(ids.put_repository_policy("app", {"{}", 1, "{}"}).error_value().code, errc::name_unknown);
  this->repo("app");
  EXPECT_FALSE(ids.repository_policy("app").value());
  auto g0 = ids.generation().value();
  ASSERT_TRUE(ids.put_repository_policy("app", {"{\"a\":1}", 7, R"({"arn:aws:iam::1:user/u":"AIDA1"})"}));
  auto stored = ids.repository_policy("app").value();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->document, "{\"a\":1}");
  EXPECT_EQ(stored->stored_at, 7);
  EXPECT_EQ(stored->principal_ids, R"({"arn:aws:iam::1:user/u":"AIDA1"})");
  auto g1 = ids.generation().value();
  EXPECT_GT(g1, g0);
  ASSERT_TRUE(this->m().repositories().tag("app", {{"team", "x"}}, 50));
  auto g2 = ids.generation().value();
  EXPECT_GT(g2, g1);  // ResourceTag conditions read tags
  ASSERT_TRUE(this->m().repositories().remove("app", true));
  EXPECT_GT(ids.generation().value(), g2);
  this->repo("app");
  EXPECT_FALSE(ids.repository_policy("app").value());  // the old policy went with the repository
  EXPECT_FALSE(ids.delete_repository_policy("app").value());

  EXPECT_FALSE(ids.registry_policy().value());
  ASSERT_TRUE(ids.put_registry_policy({"{}", 1, "{}"}));
  ASSERT_TRUE(ids.put_registry_policy({"{ }", 2, "{}"}));
  EXPECT_EQ(ids.registry_policy().value()->document, "{ }");
  EXPECT_EQ(ids.registry_policy().value()->stored_at, 2);
  EXPECT_TRUE(ids.delete_registry_policy().value());
  EXPECT_FALSE(ids.delete_registry_policy().value());

  ASSERT_TRUE(ids.add_pull_exclusion("arn:aws:iam::1:user/b", 1));
  ASSERT_TRUE(ids.add_pull_exclusion("arn:aws:iam::1:user/a", 1));
  EXPECT_EQ(ids.add_pull_exclusion("arn:aws:iam::1:user/a", 2).error_value().code, errc::entity_already_exists);
  EXPECT_EQ(ids.pull_exclusions().value(),
            (std::vector<std::string>{"arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b"}));
  ASSERT_TRUE(ids.remove_pull_exclusion("arn:aws:iam::1:user/a"));
  EXPECT_EQ(ids.remove_pull_exclusion("arn:aws:iam::1:user/a").error_value().code, errc::no_such_entity);
}

TYPED_TEST_P(metadata_suite, vault_secrets_change_only_at_the_revision_read) {
  auto& v = this->m().vault();
  meta::vault_secret_row s{
      "ecr-pullthroughcache/hub", "arn:x:secret:ecr-pullthroughcache/hub-AbCdEf", "d", "", "[]", 10, 10, 0, 0, 0};
  ASSERT_TRUE(v.create(s, meta::vault_version_row{"v1", "sealed1", R"(["AWSCURRENT"])", 10}));
  EXPECT_EQ(v.create(s, std::nullopt).error_value().code, errc::secret_already_exists);
  auto found = v.find("ecr-pullthroughcache/hub").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->arn, s.arn);
  EXPECT_EQ(found->revision, 0);
  EXPECT_FALSE(v.find("ECR-PULLTHROUGHCACHE/HUB").value());  // names keep their case

  meta::vault_version_change c;
  c.added = meta::vault_version_row{"v2", "sealed2", R"(["AWSCURRENT"])", 10};  // the same second as v1
  c.relabelled = {{"v1", R"(["AWSPREVIOUS"])"}};
  ASSERT_TRUE(v.change_versions(s.name, 0, c, 11));
  EXPECT_EQ(v.change_versions(s.name, 0, c, 12).error_value().code, errc::busy);  // a stale writer
  EXPECT_EQ(v.change_versions("nope", 0, c, 12).error_value().code, errc::secret_not_found);
  auto versions = v.versions(s.name).value();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version_id, "v1");  // in the order written, not by id
  EXPECT_EQ(versions[0].stages, R"(["AWSPREVIOUS"])");
  EXPECT_EQ(versions[1].sealed_value, "sealed2");
  found = v.find(s.name).value();
  EXPECT_EQ(found->revision, 1);
  EXPECT_EQ(found->changed_at, 11);

  meta::vault_version_change drop;
  drop.removed = {"v1"};
  ASSERT_TRUE(v.change_versions(s.name, 1, drop, 12));
  EXPECT_EQ(v.versions(s.name).value().size(), 1u);
  ASSERT_TRUE(v.mark_accessed(s.name, 86400));
  ASSERT_TRUE(v.mark_accessed(s.name, 0));  // never backwards
  EXPECT_EQ(v.find(s.name).value()->accessed_at, 86400);
  EXPECT_EQ(v.schedule_deletion(s.name, 1, 99).error_value().code, errc::busy);
  ASSERT_TRUE(v.schedule_deletion(s.name, 2, 99));
  EXPECT_EQ(v.find(s.name).value()->deletion_date, 99);

  ASSERT_TRUE(v.create({"a", "arn:a", "", "", "[]", 1, 1, 0, 0, 0}, std::nullopt));
  auto page = v.list("", 1).value();
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name, "a");
  EXPECT_EQ(v.list("a", 10).value().size(), 1u);
  EXPECT_TRUE(v.remove(s.name).value());
  EXPECT_FALSE(v.remove(s.name).value());
  EXPECT_TRUE(v.versions(s.name).value().empty());
}

TYPED_TEST_P(metadata_suite, pull_through_rules_and_imports) {
  auto& settings = this->m().settings();
  meta::pull_through_rule_row r{"hub", "127.0.0.1:5001", "", "arn:s", "", "ROOT", 1, 1};
  ASSERT_TRUE(settings.put_pull_through_rule(r, true));
  EXPECT_EQ(settings.put_pull_through_rule(r, true).error_value().code, errc::pull_through_rule_already_exists);
  r.credential_arn = "arn:t";
  r.updated_at = 2;
  ASSERT_TRUE(settings.put_pull_through_rule(r, false));
  auto rules = settings.pull_through_rules().value();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].credential_arn, "arn:t");
  EXPECT_EQ(rules[0].updated_at, 2);
  EXPECT_EQ(rules[0].created_at, 1);
  EXPECT_TRUE(settings.delete_pull_through_rule("hub").value());
  EXPECT_FALSE(settings.delete_pull_through_rule("hub").value());
  r.prefix = "gone";
  EXPECT_EQ(settings.put_pull_through_rule(r, false).error_value().code, errc::pull_through_rule_not_found);

  auto& cache = this->m().cache();
  const std::string bytes("{\"schemaVersion\":2}\0binary", 26);
  meta::cache_import_row a{"hub/a", "sha256:aa", "v1", "application/vnd.oci.image.manifest.v1+json", bytes, 100,
                           0,       105,         ""};
  ASSERT_TRUE(cache.enqueue(a));
  ASSERT_TRUE(cache.enqueue(a));  // the same pull twice: one import
  EXPECT_EQ(cache.pending("hub/a", "v1").value()->content, bytes);
  EXPECT_EQ(cache.pending("hub/a", "sha256:aa").value()->tag, "v1");
  EXPECT_FALSE(cache.pending("hub/b", "v1").value());
  EXPECT_FALSE(cache.claim_due("w1", 104, 200).value());  // not due yet
  auto claimed = cache.claim_due("w1", 105, 200).value();
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->digest, "sha256:aa");
  EXPECT_FALSE(cache.claim_due("w2", 150, 300).value());  // held by w1
  ASSERT_TRUE(cache.retry(*claimed, 400, "upstream down"));
  EXPECT_FALSE(cache.claim_due("w2", 399, 500).value());
  claimed = cache.claim_due("w2", 400, 500).value();
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->attempts, 1);
  EXPECT_EQ(claimed->last_error, "upstream down");
  EXPECT_TRUE(cache.claim_due("w3", 501, 600).value());  // w2's hold expired: taken over
  ASSERT_TRUE(cache.finish(a));
  EXPECT_FALSE(cache.pending("hub/a", "v1").value());

  EXPECT_FALSE(cache.tag_checked_at("hub/a", "v1").value());
  ASSERT_TRUE(cache.set_tag_checked_at("hub/a", "v1", 7));
  ASSERT_TRUE(cache.set_tag_checked_at("hub/a", "v1", 9));
  EXPECT_EQ(cache.tag_checked_at("hub/a", "v1").value(), 9);
}

TYPED_TEST_P(metadata_suite, replication_jobs_are_written_with_their_manifest) {
  auto& m = this->m();
  this->repo("prod/a");
  this->blob("prod/a", "sha256:b1");
  auto& jobs = m.replication();
  const std::pair<std::string, std::string> west{"eu-west-1", "210987654321"}, south{"ap-south-1", "310987654321"};

  // A push that fails writes no job; one that commits writes one per destination and tag.
  auto w = this->manifest("prod/a", "sha256:m1", {"sha256:missing"}, {"v1"});
  w.replicate_to = {west};
  EXPECT_EQ(m.images().put_manifest(w).error_value().code, errc::manifest_blob_unknown);
  EXPECT_TRUE(jobs.jobs_of("prod/a", "sha256:m1").value().empty());
  w = this->manifest("prod/a", "sha256:m1", {"sha256:b1"}, {"v1", "latest"});
  w.replicate_to = {west, south};
  ASSERT_TRUE(m.images().put_manifest(w));
  auto all = jobs.jobs_of("prod/a", "sha256:m1").value();
  ASSERT_EQ(all.size(), 4u);  // ordered by destination, then tag
  EXPECT_EQ(all[0].region, "ap-south-1");
  EXPECT_EQ(all[0].tag, "latest");
  EXPECT_EQ(all[3].region, "eu-west-1");
  EXPECT_EQ(all[3].tag, "v1");
  for (const auto& j : all) EXPECT_EQ(j.status, "IN_PROGRESS");
  // By digest (no tag): one job with tag "".
  auto d = this->manifest("prod/a", "sha256:m2", {"sha256:b1"}, {});
  d.replicate_to = {west};
  ASSERT_TRUE(m.images().put_manifest(d));
  const auto by_digest = jobs.jobs_of("prod/a", "sha256:m2").value();
  ASSERT_EQ(by_digest.size(), 1u);
  EXPECT_EQ(by_digest[0].tag, "");

  // Claims: one holder at a time, taken over when the hold expires.
  EXPECT_FALSE(jobs.claim_due("w1", 9, 100).value());  // not due before its push
  auto c = jobs.claim_due("w1", 10, 100).value();
  ASSERT_TRUE(c);
  std::vector<meta::replication_job_row> claimed{*c};
  for (int i = 0; i < 4; ++i) {
    auto next = jobs.claim_due("w1", 10, 100).value();
    ASSERT_TRUE(next);
    claimed.push_back(*next);
  }
  EXPECT_FALSE(jobs.claim_due("w2", 50, 200).value());  // all five held
  EXPECT_TRUE(jobs.extend(claimed[0], "w1", 150).value());
  EXPECT_FALSE(jobs.extend(claimed[0], "w9", 150).value());  // not its holder
  auto same = [](const meta::replication_job_row& a, const meta::replication_job_row& b) {
    return a.digest == b.digest && a.tag == b.tag && a.region == b.region;
  };
  int taken = 0;
  while (auto t = jobs.claim_due("w2", 101, 200).value()) {  // w1's other holds expired
    EXPECT_FALSE(same(*t, claimed[0]));
    ++taken;
  }
  EXPECT_EQ(taken, 4);
  ASSERT_TRUE(jobs.release("w1"));  // w1 restarted: what it held is due at once
  auto released = jobs.claim_due("w3", 102, 300).value();
  ASSERT_TRUE(released);
  EXPECT_TRUE(same(*released, claimed[0]));
  ASSERT_TRUE(jobs.complete(claimed[0]));
  ASSERT_TRUE(jobs.retry(claimed[1], 500, "peer down"));
  ASSERT_TRUE(jobs.fail(claimed[2], "ACCESS_DENIED"));
  auto find = [&](const meta::replication_job_row& want) {
    const auto of = jobs.jobs_of(want.repository, want.digest).value();
    for (const auto& j : of) {
      if (j.region == want.region && j.tag == want.tag) return j;
    }
    return meta::replication_job_row{};
  };
  EXPECT_EQ(find(claimed[0]).status, "COMPLETE");
  EXPECT_EQ(find(claimed[1]).status, "IN_PROGRESS");
  EXPECT_EQ(find(claimed[1]).attempts, 1);
  EXPECT_EQ(find(claimed[1]).failure, "peer down");
  EXPECT_EQ(find(claimed[2]).status, "FAILED");
  EXPECT_EQ(find(claimed[2]).failure, "ACCESS_DENIED");

  // Pushed again, every job of the image is due again, and an outcome for the generation claimed
  // before does not apply.
  ASSERT_TRUE(m.images().put_manifest(w));
  const auto again = jobs.jobs_of("prod/a", "sha256:m1").value();
  for (const auto& j : again) {
    EXPECT_EQ(j.status, "IN_PROGRESS");
    EXPECT_EQ(j.attempts, 0);
  }
  for (const auto& stale : claimed) {
    if (stale.digest != "sha256:m1") continue;
    ASSERT_TRUE(jobs.complete(stale));
    EXPECT_EQ(find(stale).status, "IN_PROGRESS");
  }

  // A deleted image takes its jobs along; a dropped job is gone.
  ASSERT_TRUE(jobs.drop(claimed[4]));
  ASSERT_TRUE(m.images().delete_image("prod/a", "sha256:m1", "").has_value());
  EXPECT_TRUE(jobs.jobs_of("prod/a", "sha256:m1").value().empty());
  ASSERT_TRUE(m.repositories().remove("prod/a", true));
  EXPECT_TRUE(jobs.jobs_of("prod/a", "sha256:m2").value().empty());

  // Which repository on a destination holds a blob.
  EXPECT_FALSE(jobs.blob_holder("eu-west-1", "210987654321", "sha256:b1").value());
  ASSERT_TRUE(jobs.note_blob("eu-west-1", "210987654321", "sha256:b1", "prod/a"));
  ASSERT_TRUE(jobs.note_blob("eu-west-1", "210987654321", "sha256:b1", "prod/b"));
  EXPECT_EQ(jobs.blob_holder("eu-west-1", "210987654321", "sha256:b1").value(), "prod/b");
  EXPECT_FALSE(jobs.blob_holder("ap-south-1", "310987654321", "sha256:b1").value());
}

TYPED_TEST_P(metadata_suite, statistics_count_what_is_stored_and_what_waits) {
  auto& m = this->m();
  auto& stats = m.statistics();
  auto empty = stats.inventory().value();
  EXPECT_EQ(empty.repositories + empty.images + empty.tags + empty.blobs + empty.blob_bytes + empty.uploads, 0);
  auto queues = stats.queues().value();
  ASSERT_EQ(queues.size(), 3u);
  EXPECT_EQ(queues[0].queue, "replication");
  EXPECT_EQ(queues[1].queue, "pull-through-import");
  EXPECT_EQ(queues[2].queue, "events");
  for (const auto& q : queues) {
    EXPECT_EQ(q.depth, 0);
    EXPECT_FALSE(q.oldest_due_at);
  }
  EXPECT_EQ(stats.schema_version().value(), meta::latest_schema_version());

  this->repo("a");
  this->repo("b");
  this->blob("a", "sha256:b1", 1000);
  this->blob("a", "sha256:b2", 24);
  this->blob("b", "sha256:b1", 1000);  // one blob, linked twice
  ASSERT_TRUE(m.uploads().create("u1", "a", 1, 10, "e"));
  auto w = this->manifest("a", "sha256:m1", {"sha256:b1"}, {"v1", "latest"});
  w.replicate_to = {{"eu-west-1", "210987654321"}};
  ASSERT_TRUE(m.images().put_manifest(w));
  ASSERT_TRUE(m.images().put_manifest(this->manifest("b", "sha256:m2", {"sha256:b1"}, {})));
  meta::cache_import_row imp{"a", "sha256:m9", "v9", "application/vnd.oci.image.manifest.v1+json", "{}", 100,
                             0,   105,         ""};
  ASSERT_TRUE(m.cache().enqueue(imp));

  auto inv = stats.inventory().value();
  EXPECT_EQ(inv.repositories, 2);
  EXPECT_EQ(inv.images, 2);
  EXPECT_EQ(inv.tags, 2);
  EXPECT_EQ(inv.blobs, 2);
  EXPECT_EQ(inv.blob_bytes, 1024);
  EXPECT_EQ(inv.uploads, 1);
  queues = stats.queues().value();
  EXPECT_EQ(queues[0].depth, 2);  // one job per tag
  EXPECT_EQ(queues[0].oldest_due_at, 10);
  EXPECT_EQ(queues[1].depth, 1);
  EXPECT_EQ(queues[1].oldest_due_at, 105);
  // A finished job no longer waits.
  while (auto j = m.replication().claim_due("w", 10, 100).value()) ASSERT_TRUE(m.replication().complete(*j));
  EXPECT_EQ(stats.queues().value()[0].depth, 0);
}

TYPED_TEST_P(metadata_suite, events_are_written_with_their_change_and_delivered_in_order) {
  auto& m = this->m();
  auto& outbox = m.events();
  auto event = [](const std::string& hook, const std::string& repo, const std::string& id) {
    return meta::outbox_event{hook, repo, id, "{\"id\":\"" + id + "\"}"};
  };
  this->repo("a");
  this->repo("b");
  this->blob("a", "sha256:b1", 10);
  this->blob("b", "sha256:b1", 10);
  // A push that fails writes no event; one that commits writes its events with it.
  auto refused = this->manifest("a", "sha256:m0", {"sha256:missing"}, {"x"});
  refused.events = {event("h1", "a", "e0")};
  EXPECT_FALSE(m.images().put_manifest(refused));
  EXPECT_FALSE(outbox.claim_next("w", 100, 200).value());
  auto w1 = this->manifest("a", "sha256:m1", {"sha256:b1"}, {"v1"});
  w1.events = {event("h1", "a", "e1"), event("h2", "a", "e1b")};
  ASSERT_TRUE(m.images().put_manifest(w1));
  auto w2 = this->manifest("b", "sha256:m2", {"sha256:b1"}, {"v2"});
  w2.events = {event("h1", "b", "e2")};
  ASSERT_TRUE(m.images().put_manifest(w2));
  // A deletion's events are made from what it removed, in its transaction.
  std::vector<meta::image_ref> seen;
  meta::deletion_events gone{50, [&](const std::string& repo, const meta::image_ref& ref) {
                               seen.push_back(ref);
                               return std::vector<meta::outbox_event>{event("h1", repo, "d-" + ref.tag)};
                             }};
  EXPECT_FALSE(m.images().delete_image("a", "sha256:nope", "", &gone));
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(m.images().delete_image("a", "sha256:m1", "", &gone));
  EXPECT_EQ(seen, (std::vector<meta::image_ref>{{"sha256:m1", "v1"}}));
  EXPECT_TRUE(m.images().delete_tag("b", "v2", &gone).value());
  EXPECT_FALSE(m.images().delete_tag("b", "v2", &gone).value());  // no tag: nothing announced
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(stats_depth(m), 5);

  // Only the head of each (webhook, repository) may be claimed, oldest first.
  auto first = outbox.claim_next("w1", 100, 200).value();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->event.event_id, "e1");
  EXPECT_EQ(first->created_at, 10);
  auto second = outbox.claim_next("w2", 100, 200).value();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->event.event_id, "e1b");  // another webhook's
  auto third = outbox.claim_next("w2", 100, 200).value();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->event.event_id, "e2");  // another repository's
  // h1/a's next ("d-v1") waits behind e1, which w1 holds; h1/b's behind e2.
  EXPECT_FALSE(outbox.claim_next("w3", 100, 200).value());
  // A failed attempt holds the group back until its next attempt.
  ASSERT_TRUE(outbox.retry(first->id, 150, "HTTP 500"));
  EXPECT_FALSE(outbox.claim_next("w3", 100, 200).value());
  auto again = outbox.claim_next("w3", 150, 250).value();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->event.event_id, "e1");
  EXPECT_EQ(again->attempts, 1);
  ASSERT_TRUE(outbox.remove(again->id));
  auto next = outbox.claim_next("w3", 150, 250).value();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->event.event_id, "d-v1");
  EXPECT_EQ(next->created_at, 50);
  // A holder that died: its events are claimable at once after release, else when the hold ends.
  ASSERT_TRUE(outbox.release("w3"));
  auto taken = outbox.claim_next("w4", 150, 250).value();
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->event.event_id, "d-v1");
  EXPECT_FALSE(outbox.claim_next("w5", 150, 250).value());  // e1b and e2 are held by w2 until 200
  auto expired = outbox.claim_next("w5", 201, 300).value();
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->event.event_id, "e1b");
  expired = outbox.claim_next("w5", 201, 300).value();
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->event.event_id, "e2");
  // Events on their own (not part of another change).
  ASSERT_TRUE(outbox.add({event("h9", "z", "s1")}, 300));
  EXPECT_EQ(stats_depth(m), 5);  // 5 - e1 + s1
}

REGISTER_TYPED_TEST_SUITE_P(
    metadata_suite, writes_need_an_existing_repository, blobs_are_visible_only_where_linked,
    recording_a_blob_ends_its_upload_session, manifest_needs_its_blobs_and_children,
    tags_move_and_die_with_their_manifest, immutable_tags_never_move_and_unchanged_pushes_can_be_refused,
    delete_image_is_one_rule, pagination_is_bytewise_and_exclusive, images_page_by_digest_with_a_tag_filter,
    referrers_by_subject, pulls_and_storage_classes, uploads_persist_with_their_checkpoint,
    one_writer_per_upload_until_its_claim_expires, upload_sessions_per_repository_are_bounded,
    upload_parts_remember_small_parts, repositories_settings_tags_and_delete, templates_and_account_settings,
    lifecycle_policies_and_previews, a_marked_blob_is_used_by_nothing, only_unreferenced_old_blobs_can_be_marked,
    an_abandoned_mark_is_taken_over, an_unrecorded_blob_file_is_marked_before_removal,
    a_commit_in_progress_and_a_removal_exclude_each_other, fsck_and_usage_page_through_everything,
    leases_have_one_holder_at_a_time, secrets_keep_the_first_value, users_keys_and_policies_follow_iam_rules,
    resource_policies_and_pull_exclusions, vault_secrets_change_only_at_the_revision_read,
    pull_through_rules_and_imports, replication_jobs_are_written_with_their_manifest,
    statistics_count_what_is_stored_and_what_waits, events_are_written_with_their_change_and_delivered_in_order);

}  // namespace berth::testing_support
