#include "berth/registry/upload_writer.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <unistd.h>

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

result<void> upload_writer::write(const char* data, std::size_t size) {
  if (!room_for(file_->get(), size)) {
    return make_error(errc::storage_full, "the registry's storage is full");
  }
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
  if (progress_->running) {
    progress_->running->update(data, size);
    progress_->hashed_bytes += size;
  }
  offset_ += size;
  // Start write-back as the bytes arrive, so the fdatasync at commit finds little left to flush.
  unflushed_ += size;
  if (unflushed_ >= writeback_step) {
    if (flusher_) {
      flusher_->request(file_, offset_ - unflushed_, unflushed_);
    } else {
      ::sync_file_range(file_->get(), static_cast<off_t>(offset_ - unflushed_), static_cast<off_t>(unflushed_),
                        SYNC_FILE_RANGE_WRITE);
    }
    unflushed_ = 0;
  }
  return {};
}

}  // namespace berth
