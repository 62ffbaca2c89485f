// Opens everything under a data directory: blob store, metadata index, repository catalog and
// registry. Shared by `serve` and the maintenance commands (gc, fsck, lifecycle, usage).
#pragma once

#include <memory>

#include "berth/config/config.hpp"
#include "berth/meta/sqlite_meta_index.hpp"
#include "berth/registry/registry.hpp"
#include "berth/storage/filesystem_blob_store.hpp"

namespace berth::cli {

struct data_dir {
  system_clock clk;
  std::unique_ptr<storage::filesystem_blob_store> blobs;
  std::unique_ptr<meta::sqlite_meta_index> meta;
  std::unique_ptr<repository_catalog> repositories;
  std::unique_ptr<registry> reg;
};

// Also runs start-up recovery (an interrupted garbage collection).
result<std::unique_ptr<data_dir>> open_data_dir(const config::settings& cfg);

}  // namespace berth::cli
