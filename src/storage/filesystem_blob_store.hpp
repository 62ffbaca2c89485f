// The filesystem blob store (private header; the factory is filesystem_storage.hpp).
#pragma once

#include "berth/storage/blob_store.hpp"
#include "filesystem_layout.hpp"

namespace berth::storage {

class filesystem_blob_store final : public blob_store {
 public:
  explicit filesystem_blob_store(filesystem_layout layout) : layout_(std::move(layout)) {}

  result<std::shared_ptr<blob_content>> open_blob(const digest& d) override;
  result<std::optional<std::uint64_t>> stat_blob(const digest& d) override;
  std::vector<std::pair<digest, std::int64_t>> list_blobs() override;
  result<void> trash_blob(const digest& d) override;
  result<void> restore_blob(const digest& d) override;
  void purge_blob(const digest& d) override;
  std::vector<digest> trashed_blobs() override;
  result<std::string> quarantine_blob(const digest& d) override;

 private:
  filesystem_layout layout_;
};

}  // namespace berth::storage
