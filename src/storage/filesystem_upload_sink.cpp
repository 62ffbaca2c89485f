#include "filesystem_upload_sink.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace berth::storage {
namespace {

// Uploads stop short of filling the filesystem: the metadata must keep room to delete images and
// cancel uploads, or a full disk could never be emptied through the API.
bool room_for(int fd, std::size_t size) {
  struct statvfs fs {};
  if (::fstatvfs(fd, &fs) != 0) return true;
  const std::uint64_t total = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
  const std::uint64_t avail = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  const std::uint64_t reserve = std::max<std::uint64_t>(4u << 20, std::min<std::uint64_t>(1u << 30, total / 50));
  return avail >= reserve + size;
}

// Copies a file for filesystems without hard links.
result<void> copy_file(int from, const std::filesystem::path& to) {
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) return io_error("create blob file", errno);
  file_handle h(out);
  off_t in_off = 0;
  for (;;) {
    ssize_t n = ::copy_file_range(from, &in_off, out, nullptr, 1 << 30, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("copy upload", errno);
    if (n == 0) break;
  }
  if (::fdatasync(out) != 0) return io_error("fdatasync blob", errno);
  return {};
}

}  // namespace

filesystem_upload_sink::filesystem_upload_sink(const filesystem_layout& layout, std::string id, file_handle append,
                                               file_handle direct, std::uint64_t offset, hasher& hash,
                                               disk_io_pool& disk_io)
    : layout_(layout),
      id_(std::move(id)),
      file_(std::make_shared<file_handle>(std::move(append))),
      direct_file_(std::move(direct)),
      offset_(offset),
      hash_(hash),
      disk_io_(disk_io) {}

filesystem_upload_sink::~filesystem_upload_sink() {
  if (direct_) (void)flush();  // bytes received before a client left are kept
}

void filesystem_upload_sink::start_direct() {
  if (want_direct_ && !direct_ && direct_file_.valid()) {
    // The hash runs on the disk threads, in order, while this thread receives the next block.
    direct_ = direct_appender::create(std::move(direct_file_), file_, offset_, disk_io_,
                                      [h = &hash_](const char* data, std::size_t size) { h->update(data, size); });
  }
  want_direct_ = false;
}

std::span<char> filesystem_upload_sink::receive_buffer() {
  start_direct();
  return direct_ ? direct_->free_space() : std::span<char>();
}

result<void> filesystem_upload_sink::append(const char* data, std::size_t size) {
  if (!room_for(file_->get(), size)) return make_error(errc::storage_full, "the registry's storage is full");
  start_direct();
  if (direct_) {
    auto space = direct_->free_space();
    auto r = data == space.data() && size <= space.size() ? direct_->commit(size) : direct_->append(data, size);
    if (!r) return r;
    offset_ += size;
    return {};
  }
  if (auto r = write_through_page_cache(data, size); !r) return r;
  hash_.update(data, size);
  offset_ += size;
  return {};
}

result<void> filesystem_upload_sink::flush() {
  if (!direct_) return {};
  return direct_->flush();
}

result<void> filesystem_upload_sink::write_through_page_cache(const char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(file_->get(), data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write upload", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  // Start write-back as the bytes arrive, so the fdatasync at commit finds little left to flush.
  unflushed_ += size;
  if (unflushed_ >= writeback_step) {
    const auto from = static_cast<off_t>(offset_ + size - unflushed_);
    const auto length = static_cast<off_t>(unflushed_);
    disk_io_.post_hint([file = file_, from, length] {
      // May block while the device queue is full: that is why it runs on the pool.
      ::sync_file_range(file->get(), from, length, SYNC_FILE_RANGE_WRITE);
    });
    unflushed_ = 0;
  }
  return {};
}

result<void> filesystem_upload_sink::commit(const digest& d) {
  if (auto r = flush(); !r) return r;
  if (::fdatasync(file_->get()) != 0) return io_error("fdatasync upload", errno);
  const auto to = layout_.blob(d);
  if (auto r = ensure_dir(to.parent_path()); !r) return r;
  // A second name for the session's file, renamed onto the address: the session keeps its bytes,
  // so the commit can be repeated if garbage collection of the same digest got in the way.
  auto staged = to;
  staged += "." + id_;
  ::unlink(staged.c_str());
  if (::link(layout_.upload(id_).c_str(), staged.c_str()) != 0) {
    const int err = errno;
    if (err != EPERM && err != EMLINK && err != EXDEV && err != ENOTSUP && err != EOPNOTSUPP) {
      return io_error("link upload", err);
    }
    if (auto r = copy_file(file_->get(), staged); !r) return r;
  }
  if (::rename(staged.c_str(), to.c_str()) != 0) {
    const int err = errno;
    ::unlink(staged.c_str());
    return io_error("rename upload into place", err);
  }
  return fsync_dir(to.parent_path());
}

}  // namespace berth::storage
