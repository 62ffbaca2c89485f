#include "direct_appender.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace berth::storage {

namespace {

std::atomic<std::size_t> buffers_in_use{0};

// A few released buffer sets are kept for the next request: a chunked upload is one request per
// chunk, and fresh pages are costly to map (on the VMs measured, more than the data copy itself).
constexpr std::size_t set_bytes = direct_appender::buffers_each * direct_appender::block_size;
constexpr std::size_t max_cached_sets = 2;
std::mutex cache_mutex;
std::vector<char*> cached_sets;

char* take_set() {
  {
    std::lock_guard lock(cache_mutex);
    if (!cached_sets.empty()) {
      char* m = cached_sets.back();
      cached_sets.pop_back();
      return m;
    }
  }
  void* m = ::mmap(nullptr, set_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  return m == MAP_FAILED ? nullptr : static_cast<char*>(m);
}

void give_back_set(char* m) {
  {
    std::lock_guard lock(cache_mutex);
    if (cached_sets.size() < max_cached_sets) {
      cached_sets.push_back(m);
      return;
    }
  }
  ::munmap(m, set_bytes);
}

error write_error(int err, const char* what) {
  return make_error(err == ENOSPC || err == EDQUOT ? errc::storage_full : errc::internal,
                    std::string(what) + ": " + std::strerror(err));
}

// Writes all of [data, data+size) at `offset` with the direct descriptor; 0 or an errno.
int write_block(int fd, const char* data, std::size_t size, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    done += static_cast<std::size_t>(n);
    // A short direct write that stopped off the alignment cannot be continued with O_DIRECT.
    if (done < size && done % direct_appender::alignment != 0) return EIO;
  }
  return 0;
}

}  // namespace

std::unique_ptr<direct_appender> direct_appender::create(file_handle direct, std::shared_ptr<file_handle> append,
                                                         std::uint64_t size, disk_io_pool& pool, hash_sink hash) {
  if (buffers_in_use.fetch_add(buffers_each) + buffers_each > max_buffers) {
    buffers_in_use.fetch_sub(buffers_each);
    return nullptr;
  }
  char* mem = take_set();
  if (mem == nullptr) {
    buffers_in_use.fetch_sub(buffers_each);
    return nullptr;
  }
  std::unique_ptr<direct_appender> a(
      new direct_appender(std::move(direct), std::move(append), mem, pool, std::move(hash)));
  if (!a->start(size)) return nullptr;
  return a;
}

direct_appender::direct_appender(file_handle direct, std::shared_ptr<file_handle> append, char* memory,
                                 disk_io_pool& pool, hash_sink hash)
    : direct_(std::move(direct)), append_(std::move(append)), memory_(memory), pool_(pool), hash_(std::move(hash)) {
  for (std::size_t i = 0; i < buffers_each; ++i) slots_[i].memory = memory_ + i * block_size;
}

direct_appender::~direct_appender() {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !any_busy(); });
  }
  give_back_set(memory_);
  buffers_in_use.fetch_sub(buffers_each);
}

void direct_appender::release_cached_buffers() {
  std::vector<char*> sets;
  {
    std::lock_guard lock(cache_mutex);
    sets.swap(cached_sets);
  }
  for (char* m : sets) ::munmap(m, set_bytes);
}

bool direct_appender::any_busy() const {
  for (const auto& s : slots_) {
    if (s.busy) return true;
  }
  return false;
}

result<void> direct_appender::start(std::uint64_t size) {
  block_offset_ = size - size % alignment;
  file_size_ = size;
  start_size_ = size;
  hashed_until_ = size;
  used_ = static_cast<std::size_t>(size - block_offset_);
  if (used_ == 0) return {};
  // The partial block already in the file is read back: the next direct write rewrites it whole.
  // (A direct read first writes back any of the range still dirty in the page cache.)
  ssize_t n = ::pread(direct_.get(), slots_[filling_].memory, alignment, static_cast<off_t>(block_offset_));
  if (n < 0 || static_cast<std::size_t>(n) != used_) return make_error(errc::internal, "read back partial block");
  return {};
}

result<void> direct_appender::fail(int err, std::uint64_t keep) {
  // A failed block may have left part of itself behind, and a later one may have been written
  // after the gap: the file keeps only the whole, ordered bytes before the failure. Never less than
  // it held at the start: a first block that rewrote the read-back part wrote the same bytes there.
  keep = std::max(keep, start_size_);
  if (::ftruncate(append_->get(), static_cast<off_t>(keep)) == 0) file_size_ = std::min(file_size_, keep);
  failed_ = write_error(err, "write upload");
  return *failed_;
}

result<void> direct_appender::wait_all() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !any_busy(); });
  if (error_ != 0) {
    int err = error_;
    std::uint64_t at = error_offset_;
    lock.unlock();
    return fail(err, at);
  }
  file_size_ = std::max(file_size_, block_offset_);  // every submitted block is in the file
  return {};
}

result<void> direct_appender::append(const char* data, std::size_t size) {
  if (failed_) return *failed_;
  while (size > 0) {
    auto space = free_space();
    std::size_t n = std::min(size, space.size());
    std::memcpy(space.data(), data, n);
    if (auto r = commit(n); !r) return r;
    data += n;
    size -= n;
  }
  return {};
}

result<void> direct_appender::commit(std::size_t size) {
  if (failed_) return *failed_;
  used_ += std::min(size, block_size - used_);
  if (used_ < block_size) return {};
  return submit_block();
}

result<void> direct_appender::submit_block() {
  const std::size_t index = filling_;
  const std::uint64_t seq = next_seq_++;
  // Bytes before hashed_until_ (read back from the file, or hashed by a flush) were hashed already.
  const auto hash_from = static_cast<std::size_t>(std::max(hashed_until_, block_offset_) - block_offset_);
  hashed_until_ = block_offset_ + block_size;
  {
    std::lock_guard lock(mutex_);
    slots_[index].busy = true;
    slots_[index].offset = block_offset_;
  }
  pool_.post([this, index, seq, hash_from] { run_block(index, seq, hash_from); });
  block_offset_ += block_size;
  used_ = 0;
  filling_ = (filling_ + 1) % buffers_each;
  bool failed_block = false;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !slots_[filling_].busy; });
    failed_block = error_ != 0;
  }
  if (failed_block) return wait_all();
  return {};
}

// On a pool thread. Hashes run one at a time in submission order; disk writes may overlap.
void direct_appender::run_block(std::size_t index, std::uint64_t seq, std::size_t hash_from) {
  slot& s = slots_[index];
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return hash_turn_ == seq; });
  }
  if (hash_) hash_(s.memory + hash_from, block_size - hash_from);
  {
    std::lock_guard lock(mutex_);
    ++hash_turn_;
    changed_.notify_all();
  }
  int err = write_block(direct_.get(), s.memory, block_size, s.offset);
  std::lock_guard lock(mutex_);
  if (err != 0 && (error_ == 0 || s.offset < error_offset_)) {
    error_ = err;
    error_offset_ = s.offset;
  }
  s.busy = false;
  changed_.notify_all();  // the last use of `this`: the owner may destroy it once the lock is released
}

result<void> direct_appender::flush() {
  if (failed_) return *failed_;
  if (auto r = wait_all(); !r) return r;
  const std::uint64_t end = block_offset_ + used_;
  char* block = slots_[filling_].memory;
  if (hash_ && hashed_until_ < end) {
    auto from = static_cast<std::size_t>(std::max(hashed_until_, block_offset_) - block_offset_);
    hash_(block + from, used_ - from);
    hashed_until_ = end;
  }
  // Only what lies past the file's end is new: the start of the block may be the read-back part.
  auto from = static_cast<std::size_t>(file_size_ - block_offset_);
  while (from < used_) {
    ssize_t n = ::write(append_->get(), block + from, used_ - from);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed_ = write_error(errno, "write upload");
      return *failed_;
    }
    from += static_cast<std::size_t>(n);
    file_size_ = block_offset_ + from;
  }
  return {};
}

}  // namespace berth::storage
