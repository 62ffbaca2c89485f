// Appends to one upload session while hashing: the only place upload bytes are written.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "berth/registry/digest.hpp"
#include "berth/storage/file_handle.hpp"
#include "berth/storage/writeback_flusher.hpp"

namespace berth {

// The running hash of an upload, kept between requests so a finished upload is never re-read.
struct upload_progress {
  std::mutex busy;  // held by the one writer allowed at a time
  std::optional<hasher> running;
  std::uint64_t hashed_bytes = 0;
};

class upload_writer {
 public:
  upload_writer(std::string repository, std::string id, storage::file_handle file, std::uint64_t offset,
                std::shared_ptr<upload_progress> progress, std::unique_lock<std::mutex> lock,
                storage::writeback_flusher* flusher = nullptr)
      : repository_(std::move(repository)),
        id_(std::move(id)),
        file_(std::make_shared<storage::file_handle>(std::move(file))),
        offset_(offset),
        progress_(std::move(progress)),
        lock_(std::move(lock)),
        flusher_(flusher) {}

  // Appends and hashes; on failure the session keeps what reached the file.
  result<void> write(const char* data, std::size_t size);

  const std::string& repository() const { return repository_; }
  const std::string& id() const { return id_; }
  std::uint64_t size() const { return offset_; }
  upload_progress& progress() { return *progress_; }

 private:
  std::string repository_;
  std::string id_;
  std::shared_ptr<storage::file_handle> file_;  // shared with pending write-back requests
  std::uint64_t offset_;
  std::uint64_t unflushed_ = 0;
  static constexpr std::uint64_t writeback_step = 8 * 1024 * 1024;
  std::shared_ptr<upload_progress> progress_;
  std::unique_lock<std::mutex> lock_;
  storage::writeback_flusher* flusher_;
};

}  // namespace berth
