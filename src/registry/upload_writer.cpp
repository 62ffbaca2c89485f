#include "berth/registry/upload_writer.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <cstring>

namespace berth {

namespace {

// Uploads stop short of filling the filesystem: the metadata index must keep room to delete
// images and cancel uploads, or a full disk could never be emptied through the API.
bool room_for(int fd, std::size_t size) {
  struct statvfs fs {};
  if (::fstatvfs(fd, &fs) != 0) return true;
  const std::uint64_t total = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
  const std::uint64_t avail = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  const std::uint64_t reserve = std::max<std::uint64_t>(4u << 20, std::min<std::uint64_t>(1u << 30, total / 50));
  return avail >= reserve + size;
}

}  // namespace

upload_writer::~upload_writer() {
  if (direct_) (void)flush();
}

void upload_writer::start_direct() {
  if (want_direct_ && !direct_ && direct_file_.valid() && disk_io_) {
    // The hash runs on the disk threads, in order, while this thread receives the next block.
    direct_ =
        storage::direct_appender::create(std::move(direct_file_), file_, offset_, *disk_io_,
                                         [p = progress_](const char* data, std::size_t size) { p->add(data, size); });
  }
  want_direct_ = false;
}

std::span<char> upload_writer::receive_buffer() {
  start_direct();
  return direct_ ? direct_->free_space() : std::span<char>();
}

result<void> upload_writer::write(const char* data, std::size_t size) {
  if (!room_for(file_->get(), size)) {
    return make_error(errc::storage_full, "the registry's storage is full");
  }
  start_direct();
  if (direct_) {
    auto space = direct_->free_space();
    auto r = data == space.data() && size <= space.size() ? direct_->commit(size) : direct_->append(data, size);
    if (!r) {
      progress_->running.reset();  // the hash no longer matches the file: re-hash on resume
      return r;
    }
    offset_ += size;
    return {};
  }
  if (auto r = write_through_page_cache(data, size); !r) return r;
  progress_->add(data, size);
  offset_ += size;
  return {};
}

result<void> upload_writer::flush() {
  if (!direct_) return {};
  auto r = direct_->flush();
  if (!r) progress_->running.reset();
  return r;
}

result<void> upload_writer::write_through_page_cache(const char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(file_->get(), data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      // What reached the file is no longer what was hashed: force a re-hash on the next resume.
      progress_->running.reset();
      return make_error(err == ENOSPC || err == EDQUOT ? errc::storage_full : errc::internal,
                        std::string("write upload: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  // Start write-back as the bytes arrive, so the fdatasync at commit finds little left to flush.
  unflushed_ += size;
  if (unflushed_ >= writeback_step) {
    const auto from = static_cast<off_t>(offset_ + size - unflushed_);
    const auto length = static_cast<off_t>(unflushed_);
    if (disk_io_) {
      disk_io_->post_hint([file = file_, from, length] {
        // May block while the device queue is full: that is why it runs on the pool.
        ::sync_file_range(file->get(), from, length, SYNC_FILE_RANGE_WRITE);
      });
    } else {
      ::sync_file_range(file_->get(), from, length, SYNC_FILE_RANGE_WRITE);
    }
    unflushed_ = 0;
  }
  return {};
}

}  // namespace berth
