#include "disk_io_pool.hpp"

namespace berth::storage {

disk_io_pool::disk_io_pool(std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

disk_io_pool::~disk_io_pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void disk_io_pool::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void disk_io_pool::post_hint(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    // A backlog this deep means the disk is the bottleneck anyway; fdatasync will catch up.
    if (jobs_.size() >= 4096) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void disk_io_pool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // release what it captured before taking the lock again
    lock.lock();
  }
}

}  // namespace berth::storage
