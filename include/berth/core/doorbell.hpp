// A wake-up for a worker that polls a durable queue: ringing it says "there may be work now", so
// work this process queued starts at once instead of at the next poll. Only a hint: the queue is
// the truth, and work another server queued is still found by polling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>

namespace berth {

class doorbell {
 public:
  void ring() {
    {
      std::lock_guard lock(m_);
      ++rung_;
    }
    cv_.notify_all();
  }
  // How often it has rung: read before looking for work, then passed to wait, so that a ring in
  // between is not missed.
  std::uint64_t rung() {
    std::lock_guard lock(m_);
    return rung_;
  }
  // Until it rings after `seen`, `timeout` passes or a stop is requested.
  void wait(std::stop_token stop, std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_);
    cv_.wait_for(lock, stop, timeout, [&] { return rung_ != seen; });
  }

 private:
  std::mutex m_;
  std::condition_variable_any cv_;
  std::uint64_t rung_ = 0;
};

}  // namespace berth
