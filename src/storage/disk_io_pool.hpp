// A few threads that do the disk work of uploads (direct block writes, write-back hints), so a
// receiving connection never waits for the disk while bytes are still arriving.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::storage {

class disk_io_pool {
 public:
  explicit disk_io_pool(std::size_t threads = 2);
  ~disk_io_pool();  // runs every queued job, then joins
  disk_io_pool(const disk_io_pool&) = delete;
  disk_io_pool& operator=(const disk_io_pool&) = delete;

  // Queues a job that must run (the caller waits for it).
  void post(std::function<void()> job);
  // Queues a job that may be dropped when the disk is already far behind (a write-back hint).
  void post_hint(std::function<void()> job);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace berth::storage
