// Appends to one upload file while hashing (private header). Large bodies go through
// direct_appender (O_DIRECT blocks, hashed on disk_io_pool threads); small ones through the page
// cache, with early write-back so the fdatasync at commit finds little left to flush.
#pragma once

#include <memory>

#include "berth/storage/upload_store.hpp"
#include "direct_appender.hpp"
#include "disk_io_pool.hpp"
#include "file_handle.hpp"
#include "filesystem_layout.hpp"

namespace berth::storage {

class filesystem_upload_sink final : public upload_sink {
 public:
  // `direct`: the same file opened for direct I/O, or an invalid handle to use the page cache only.
  filesystem_upload_sink(const filesystem_layout& layout, std::string id, file_handle append, file_handle direct,
                         std::uint64_t offset, hasher& hash, disk_io_pool& disk_io);
  ~filesystem_upload_sink() override;

  void expect(std::optional<std::uint64_t> length) override {
    want_direct_ = !length || *length >= direct_appender::block_size;
  }
  std::span<char> receive_buffer() override;
  result<void> append(const char* data, std::size_t size) override;
  result<void> flush() override;
  std::uint64_t size() const override { return offset_; }
  result<void> commit(const digest& d) override;

 private:
  void start_direct();
  result<void> write_through_page_cache(const char* data, std::size_t size);

  const filesystem_layout& layout_;
  std::string id_;
  std::shared_ptr<file_handle> file_;  // shared with pending write-back requests
  file_handle direct_file_;
  std::unique_ptr<direct_appender> direct_;
  bool want_direct_ = false;
  std::uint64_t offset_;
  std::uint64_t unflushed_ = 0;
  static constexpr std::uint64_t writeback_step = 8 * 1024 * 1024;
  hasher& hash_;
  disk_io_pool& disk_io_;
};

}  // namespace berth::storage
