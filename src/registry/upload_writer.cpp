#include "berth/registry/upload_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth {

result<void> upload_writer::write(const char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(file_.get(), data + done, size - done);
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
    ::sync_file_range(file_.get(), static_cast<off_t>(offset_ - unflushed_), static_cast<off_t>(unflushed_),
                      SYNC_FILE_RANGE_WRITE);
    unflushed_ = 0;
  }
  return {};
}

}  // namespace berth
