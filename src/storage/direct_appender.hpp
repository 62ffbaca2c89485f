// Appends a byte stream to a file with O_DIRECT, in whole aligned blocks that disk_io_pool threads
// hash and write while the receiving thread fills the next block (three buffers: one filling, up to
// two in flight). Why: on the VMs measured in docs/performance.md, buffered write-back of a large
// upload reached about a quarter of what the device accepts for direct writes, a direct write skips
// the copy into the page cache, and hashing off the receiving thread lets receive, hash and disk
// write overlap. The unaligned tail goes through the page cache at flush(), so a session can end,
// and resume, at any byte.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "berth/core/error.hpp"
#include "disk_io_pool.hpp"
#include "file_handle.hpp"

namespace berth::storage {

class direct_appender {
 public:
  static constexpr std::size_t block_size = 512u * 1024;
  static constexpr std::size_t alignment = 4096;  // covers 512-byte and 4 KiB logical blocks
  static constexpr std::size_t buffers_each = 3;
  // Buffers in use across the process at most: beyond it, uploads are written through the page
  // cache, so memory stays bounded however many uploads run at once.
  static constexpr std::size_t max_buffers = 12 * buffers_each;

  // Receives every appended byte exactly once, in order (on a pool thread, or in flush()).
  using hash_sink = std::function<void(const char*, std::size_t)>;

  // `direct`: the file opened O_RDWR|O_DIRECT; `append`: opened O_APPEND, for the tail; `size`: the
  // file's current size (those bytes are not passed to `hash`). Returns nullptr when the buffer
  // budget is spent or memory is short: the caller then keeps writing through the page cache.
  // Returns the few buffer sets kept for reuse to the system (the server does it every 30 s).
  static void release_cached_buffers();

  static std::unique_ptr<direct_appender> create(file_handle direct, std::shared_ptr<file_handle> append,
                                                 std::uint64_t size, disk_io_pool& pool, hash_sink hash = {});
  ~direct_appender();  // waits for the blocks in flight
  direct_appender(const direct_appender&) = delete;
  direct_appender& operator=(const direct_appender&) = delete;

  // Copies into the current block; a full block goes to the pool. On failure the file is cut
  // back to the end of the last block written in order, and every later call fails the same way.
  // Every failure is returned only once no block is in flight (nothing runs `hash` any more).
  result<void> append(const char* data, std::size_t size);
  // The unfilled part of the current block: a caller may receive into it, then commit() what it
  // put there, which saves the copy append() makes.
  std::span<char> free_space() { return {slots_[filling_].memory + used_, block_size - used_}; }
  result<void> commit(std::size_t size);
  // Waits for the blocks in flight and writes the partial block: the file then holds every byte.
  result<void> flush();

 private:
  struct slot {
    char* memory = nullptr;
    bool busy = false;
    int err = 0;
    std::uint64_t offset = 0;
  };

  direct_appender(file_handle direct, std::shared_ptr<file_handle> append, char* memory, disk_io_pool& pool,
                  hash_sink hash);
  result<void> start(std::uint64_t size);
  result<void> submit_block();
  void run_block(std::size_t index, std::uint64_t seq, std::size_t hash_from);
  result<void> wait_all();
  bool any_busy() const;  // with mutex_ held
  result<void> fail(int err, std::uint64_t keep);

  file_handle direct_;
  std::shared_ptr<file_handle> append_;
  char* memory_;  // buffers_each blocks, mmap'd (a few sets are kept for reuse, see release_cached_buffers)
  disk_io_pool& pool_;
  hash_sink hash_;

  std::mutex mutex_;  // guards slots_[*].busy/err and hash_turn_
  std::condition_variable changed_;
  slot slots_[buffers_each];
  std::uint64_t hash_turn_ = 0;  // sequence number of the block whose hash may run now
  int error_ = 0;                // the first failed block's errno, and where it starts
  std::uint64_t error_offset_ = 0;

  std::size_t filling_ = 0;         // slot being filled by the caller
  std::size_t used_ = 0;            // bytes in that slot
  std::uint64_t block_offset_ = 0;  // file offset of that slot's first byte
  std::uint64_t hashed_until_ = 0;  // file offset up to which bytes went (or are going) to hash_
  std::uint64_t next_seq_ = 0;
  std::uint64_t file_size_ = 0;   // bytes in the file when nothing is in flight
  std::uint64_t start_size_ = 0;  // the file's size when the appender was created
  std::optional<error> failed_;
};

}  // namespace berth::storage
