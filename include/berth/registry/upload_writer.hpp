// Appends to one upload session while hashing: the only place upload bytes are written.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "berth/core/digest.hpp"
#include "berth/storage/direct_appender.hpp"
#include "berth/storage/disk_io_pool.hpp"
#include "berth/storage/file_handle.hpp"

namespace berth {

// The running hash of an upload, kept between requests so a finished upload is never re-read.
struct upload_progress {
  std::mutex busy;  // held by the one writer allowed at a time
  std::optional<hasher> running;
  std::uint64_t hashed_bytes = 0;

  void add(const char* data, std::size_t size) {
    if (!running) return;  // reset after a failed write: re-hashed from the file on resume
    running->update(data, size);
    hashed_bytes += size;
  }
};

class upload_writer {
 public:
  // `direct`: the same file opened for direct I/O, or an invalid handle to write through the page
  // cache only. `disk_io`: where write-back and direct block writes run (nullptr: inline).
  upload_writer(std::string repository, std::string id, storage::file_handle file, storage::file_handle direct,
                std::uint64_t offset, std::shared_ptr<upload_progress> progress, std::unique_lock<std::mutex> lock,
                storage::disk_io_pool* disk_io = nullptr)
      : repository_(std::move(repository)),
        id_(std::move(id)),
        file_(std::make_shared<storage::file_handle>(std::move(file))),
        direct_file_(std::move(direct)),
        offset_(offset),
        progress_(std::move(progress)),
        lock_(std::move(lock)),
        disk_io_(disk_io) {}
  ~upload_writer();  // flushes what is buffered: bytes received before a client left are kept
  upload_writer(const upload_writer&) = delete;
  upload_writer& operator=(const upload_writer&) = delete;

  // How many bytes this request will bring (nullopt: unknown). Large or unknown bodies go to the
  // disk with direct I/O; small ones through the page cache, where a direct write would only wait.
  void expect(std::optional<std::uint64_t> length) {
    want_direct_ = !length || *length >= storage::direct_appender::block_size;
  }
  // Where the next bytes may be received so that write() need not copy them (empty: anywhere).
  std::span<char> receive_buffer();
  // Appends and hashes; on failure the session keeps what reached the file.
  result<void> write(const char* data, std::size_t size);
  // Puts every byte written so far into the file; call before answering the request.
  result<void> flush();

  const std::string& repository() const { return repository_; }
  const std::string& id() const { return id_; }
  std::uint64_t size() const { return offset_; }
  upload_progress& progress() { return *progress_; }

 private:
  void start_direct();
  result<void> write_through_page_cache(const char* data, std::size_t size);

  std::string repository_;
  std::string id_;
  std::shared_ptr<storage::file_handle> file_;  // shared with pending write-back requests
  storage::file_handle direct_file_;
  std::unique_ptr<storage::direct_appender> direct_;
  bool want_direct_ = false;
  std::uint64_t offset_;
  std::uint64_t unflushed_ = 0;
  static constexpr std::uint64_t writeback_step = 8 * 1024 * 1024;
  std::shared_ptr<upload_progress> progress_;
  std::unique_lock<std::mutex> lock_;
  storage::disk_io_pool* disk_io_;
};

}  // namespace berth
