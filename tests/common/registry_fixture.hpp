// A registry on a scratch data directory with a fixed clock: the fixture of every domain test.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "berth/meta/sqlite_metadata.hpp"
#include "berth/registry/lifecycle_service.hpp"
#include "berth/registry/registry.hpp"
#include "berth/storage/filesystem_storage.hpp"
#include "temp_dir.hpp"

namespace berth::testing_support {

class registry_fixture : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  // (Re)opens everything on the same directory, as a restarted process would.
  void open() {
    lifecycle.reset();
    reg.reset();
    repos.reset();
    meta.reset();
    storage = {};
    storage = std::move(storage::open_filesystem_storage(dir.path()).value());
    blobs = storage.blobs.get();
    meta = std::move(meta::open_sqlite_metadata(dir.path() / "berth.db").value());
    repos = std::make_unique<repository_catalog>(*meta, clk, "000000000000");
    // Pushes create repositories, as ECR's creation templates allow.
    if (create_on_push) (void)repos->put_template("ROOT", R"({"appliedFor":["CREATE_ON_PUSH"]})", true);
    reg = std::make_unique<registry>(backends(), *repos, clk, registry_options{3600});
    lifecycle = std::make_unique<lifecycle_service>(*reg, backends());
  }

  registry_backends backends() { return registry_backends{*storage.blobs, *storage.uploads, *meta}; }

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

  // What the filesystem store holds (its layout: src/storage/filesystem_layout.hpp).
  bool has_blob(const digest& d) {
    auto size = blobs->stat_blob(d);
    return size && size->has_value();
  }
  std::filesystem::path blob_path(const digest& d) const {
    return dir.path() / "blobs" / std::string(d.algorithm_name()) / d.hex().substr(0, 2) / d.hex();
  }

  bool create_on_push = true;
  temp_dir dir;
  fixed_clock clk;
  storage::filesystem_storage storage;
  storage::blob_store* blobs = nullptr;
  std::unique_ptr<meta::metadata_store> meta;
  std::unique_ptr<repository_catalog> repos;
  std::unique_ptr<registry> reg;
  std::unique_ptr<lifecycle_service> lifecycle;
};

}  // namespace berth::testing_support
