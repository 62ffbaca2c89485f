// A registry on a scratch data directory with a fixed clock: the fixture of every domain test.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "berth/meta/sqlite_meta_index.hpp"
#include "berth/registry/registry.hpp"
#include "berth/storage/filesystem_blob_store.hpp"
#include "temp_dir.hpp"

namespace berth::testing_support {

class registry_fixture : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  // (Re)opens everything on the same directory, as a restarted process would.
  void open() {
    reg.reset();
    repos.reset();
    meta.reset();
    blobs.reset();
    blobs = std::move(storage::filesystem_blob_store::open(dir.path()).value());
    meta = std::move(meta::sqlite_meta_index::open(dir.path() / "berth.db").value());
    repos = std::make_unique<repository_catalog>(*meta, clk, "000000000000");
    // Pushes create repositories, as ECR's creation templates allow.
    if (create_on_push) (void)repos->put_template("ROOT", R"({"appliedFor":["CREATE_ON_PUSH"]})", true);
    reg = std::make_unique<registry>(*blobs, *meta, *repos, clk, registry_options{3600});
  }

  digest push_blob(const std::string& repo, const std::string& bytes) {
    auto s = reg->start_upload(repo);
    EXPECT_TRUE(s);
    auto w = reg->resume_upload(repo, s->id, std::nullopt);
    EXPECT_TRUE(w);
    EXPECT_TRUE((*w)->write(bytes.data(), bytes.size()));
    auto d = digest_of(bytes);
    EXPECT_TRUE(reg->complete_upload(std::move(*w), d));
    return d;
  }

  bool create_on_push = true;
  temp_dir dir;
  fixed_clock clk;
  std::unique_ptr<storage::filesystem_blob_store> blobs;
  std::unique_ptr<meta::sqlite_meta_index> meta;
  std::unique_ptr<repository_catalog> repos;
  std::unique_ptr<registry> reg;
};

}  // namespace berth::testing_support
