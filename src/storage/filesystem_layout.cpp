#include "filesystem_layout.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "berth/core/names.hpp"
#include "file_handle.hpp"

namespace berth::storage {
namespace fs = std::filesystem;

error io_error(const char* what, int err) {
  return make_error(err == ENOSPC || err == EDQUOT ? errc::storage_full : errc::internal,
                    std::string(what) + ": " + std::strerror(err));
}

result<void> fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open directory", errno);
  file_handle h(fd);
  if (::fsync(fd) != 0) return io_error("fsync directory", errno);
  return {};
}

result<void> ensure_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(errc::internal, "create " + dir.string() + ": " + ec.message());
  return {};
}

fs::path filesystem_layout::blob(const digest& d) const {
  return root_ / "blobs" / std::string(d.algorithm_name()) / d.hex().substr(0, 2) / d.hex();
}

fs::path filesystem_layout::upload(const std::string& id) const {
  // Ids are validated by the caller; checked again because a path is built from it.
  if (!is_valid_upload_id(id)) return uploads_dir() / "invalid";
  return uploads_dir() / id;
}

fs::path filesystem_layout::trash(const digest& d) const {
  return trash_dir() / (std::string(d.algorithm_name()) + "-" + d.hex());
}

result<void> filesystem_layout::prepare() const {
  for (auto sub : {"blobs/sha256", "blobs/sha512", "uploads", "trash", "quarantine"}) {
    if (auto r = ensure_dir(root_ / sub); !r) return r;
  }
  // Prove the directory is writable now rather than at the first push.
  auto probe = uploads_dir() / ".write-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(("data directory not writable: " + root_.string()).c_str(), errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

}  // namespace berth::storage
