// Checkpoints a SQLite write-ahead log from its own thread and connection, so that no commit waits
// for a checkpoint.
//
// SQLite's automatic checkpoint runs inside the commit that crosses 1000 frames, and it is PASSIVE.
// Under a steady stream of readers a PASSIVE checkpoint never rewinds the log: in a 20-minute soak
// the file grew to 433 MiB. A TRUNCATE checkpoint in the commit path bounded the log, but it stalled
// writes for up to 9.6 s, because it copied up to 64 MiB while holding the writer. Here a PASSIVE
// checkpoint runs beside the writer every `interval`, and sooner once a commit leaves
// `passive_frames` more frames. When the log passes `rewind_frames`, a TRUNCATE checkpoint rewinds
// it with the writer held, and by then little is left to copy.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace berth::meta {

class sqlite_connection;

struct wal_policy {
  int passive_frames = 1000;  // a commit that leaves this many new frames wakes the checkpointer
  int rewind_frames = 4096;   // 16 MiB of 4 KiB pages
  std::chrono::milliseconds interval{1000};
};

class wal_checkpointer {
 public:
  // `rewind` runs a TRUNCATE checkpoint with the writer held and says whether the log was rewound.
  // The pool runs it on the writer's own connection under its writer mutex, so commits wait on that
  // mutex and not in SQLite's busy sleeps.
  wal_checkpointer(std::unique_ptr<sqlite_connection> own, wal_policy policy, std::function<bool()> rewind);
  ~wal_checkpointer();  // stops the thread and joins it
  wal_checkpointer(const wal_checkpointer&) = delete;
  wal_checkpointer& operator=(const wal_checkpointer&) = delete;

  // sqlite3_wal_hook's callback for the writer; `arg` is the checkpointer.
  static int after_commit(void* arg, sqlite3* db, const char* schema, int frames);

  struct counts {
    std::uint64_t passive = 0;
    std::uint64_t rewinds = 0;
  };
  counts done() const { return {passive_.load(), rewinds_.load()}; }

 private:
  void committed(int frames);
  void run();
  void checkpoint();

  std::unique_ptr<sqlite_connection> own_;
  wal_policy policy_;
  std::function<bool()> rewind_;
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<int> frames_at_last_checkpoint_{0};
  std::atomic<std::uint64_t> passive_{0};
  std::atomic<std::uint64_t> rewinds_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once everything above exists
};

}  // namespace berth::meta
