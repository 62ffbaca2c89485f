#include "berth/meta/wal_checkpointer.hpp"

#include "berth/meta/sqlite_connection.hpp"

namespace berth::meta {

wal_checkpointer::wal_checkpointer(std::unique_ptr<sqlite_connection> own, wal_policy policy,
                                   std::function<bool()> rewind)
    : own_(std::move(own)), policy_(policy), rewind_(std::move(rewind)), thread_([this] { run(); }) {}

wal_checkpointer::~wal_checkpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

int wal_checkpointer::after_commit(void* arg, sqlite3*, const char*, int frames) {
  static_cast<wal_checkpointer*>(arg)->committed(frames);
  return SQLITE_OK;
}

void wal_checkpointer::committed(int frames) {
  commits_.fetch_add(1, std::memory_order_relaxed);
  // The log only shrinks when it is rewound; a smaller count than at the last checkpoint means a
  // rewound log that has grown again.
  int last = frames_at_last_checkpoint_.load(std::memory_order_relaxed);
  int fresh = frames >= last ? frames - last : frames;
  if (fresh < policy_.passive_frames) return;
  {
    std::lock_guard lock(mutex_);
    if (woken_) return;
    woken_ = true;
  }
  wake_.notify_one();
}

void wal_checkpointer::run() {
  std::uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, policy_.interval, [this] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    // An idle database is left alone: nothing was committed since the last look.
    std::uint64_t now = commits_.load(std::memory_order_relaxed);
    if (now == seen) continue;
    seen = now;
    lock.unlock();
    checkpoint();
    lock.lock();
  }
}

void wal_checkpointer::checkpoint() {
  int frames = 0;
  int copied = 0;
  int rc = sqlite3_wal_checkpoint_v2(own_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
  if (rc != SQLITE_OK) return;  // tried again on the next tick
  passive_.fetch_add(1, std::memory_order_relaxed);
  frames_at_last_checkpoint_.store(frames, std::memory_order_relaxed);
  if (frames < policy_.rewind_frames) return;
  if (!rewind_()) return;  // readers of older snapshots outlasted the wait: the next tick tries again
  rewinds_.fetch_add(1, std::memory_order_relaxed);
  frames_at_last_checkpoint_.store(0, std::memory_order_relaxed);
}

}  // namespace berth::meta
