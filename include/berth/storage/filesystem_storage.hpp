// The filesystem backend: the blob store and the upload store under one data directory (layout in
// src/storage/filesystem_layout.hpp). The embedded default.
#pragma once

#include <filesystem>
#include <memory>

#include "berth/storage/blob_store.hpp"
#include "berth/storage/upload_store.hpp"

namespace berth::storage {

struct filesystem_storage {
  std::unique_ptr<blob_store> blobs;
  std::unique_ptr<upload_store> uploads;
};

// Creates the directories; fails if the data directory is not writable.
result<filesystem_storage> open_filesystem_storage(const std::filesystem::path& data_dir);

}  // namespace berth::storage
