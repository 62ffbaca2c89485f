#include "berth/storage/writeback_flusher.hpp"

#include <fcntl.h>

namespace berth::storage {

writeback_flusher::writeback_flusher() : thread_([this] { run(); }) {}

writeback_flusher::~writeback_flusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void writeback_flusher::request(std::shared_ptr<file_handle> file, std::uint64_t offset, std::uint64_t length) {
  {
    std::lock_guard lock(mutex_);
    // A backlog this deep means the disk is the bottleneck anyway; fdatasync will catch up.
    if (jobs_.size() >= 4096) return;
    jobs_.push_back(job{std::move(file), offset, length});
  }
  wake_.notify_one();
}

void writeback_flusher::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left
    auto j = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    // May block while the device queue is full: that is why it runs here.
    ::sync_file_range(j.file->get(), static_cast<off_t>(j.offset), static_cast<off_t>(j.length),
                      SYNC_FILE_RANGE_WRITE);
    j.file.reset();
    lock.lock();
  }
}

}  // namespace berth::storage
