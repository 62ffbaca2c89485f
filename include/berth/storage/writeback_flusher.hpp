// Starts disk write-back of uploaded bytes on a background thread, so that a receiving connection
// never waits for the disk while bytes arrive and the fdatasync at commit finds little left.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "berth/storage/file_handle.hpp"

namespace berth::storage {

class writeback_flusher {
 public:
  writeback_flusher();
  ~writeback_flusher();
  writeback_flusher(const writeback_flusher&) = delete;
  writeback_flusher& operator=(const writeback_flusher&) = delete;

  // Asks for [offset, offset+length) of `file` to be written back soon; never blocks on the disk.
  void request(std::shared_ptr<file_handle> file, std::uint64_t offset, std::uint64_t length);

 private:
  struct job {
    std::shared_ptr<file_handle> file;
    std::uint64_t offset;
    std::uint64_t length;
  };
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::storage
