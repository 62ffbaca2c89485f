// The filesystem upload store (private header; the factory is filesystem_storage.hpp): one file per
// session, appended through the page cache or, for large bodies, with direct I/O in whole blocks
// that disk_io_pool threads hash and write while the connection receives the next one.
#pragma once

#include "berth/storage/upload_store.hpp"
#include "disk_io_pool.hpp"
#include "filesystem_layout.hpp"

namespace berth::storage {

class filesystem_upload_store final : public upload_store {
 public:
  explicit filesystem_upload_store(filesystem_layout layout);

  result<void> create_upload(const std::string& id) override;
  result<std::unique_ptr<upload_sink>> open_upload(const std::string& id, std::uint64_t offset, hasher& hash) override;
  result<std::unique_ptr<byte_reader>> read_upload(const std::string& id) override;
  void remove_upload(const std::string& id) override;
  std::vector<std::string> list_uploads() override;
  std::string epoch() const override { return epoch_; }
  void release_memory() override;

 private:
  filesystem_layout layout_;
  std::string epoch_;
  disk_io_pool disk_io_;
};

}  // namespace berth::storage
