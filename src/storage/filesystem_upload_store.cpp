#include "filesystem_upload_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "berth/core/names.hpp"
#include "direct_appender.hpp"
#include "file_handle.hpp"
#include "filesystem_upload_sink.hpp"

namespace berth::storage {
namespace fs = std::filesystem;
namespace {

// Bytes in the page cache survive a crash of the process but not of the machine: checkpoints are
// trusted within one boot of the kernel.
std::string boot_epoch() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (in >> id && !id.empty()) return "boot:" + id;
  return "process:" + new_upload_id();  // unknown boot: trust nothing across a restart
}

class file_reader final : public byte_reader {
 public:
  explicit file_reader(file_handle fd) : fd_(std::move(fd)) {}
  result<std::size_t> read(char* out, std::size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), out, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("read upload", errno);
      return static_cast<std::size_t>(n);
    }
  }

 private:
  file_handle fd_;
};

}  // namespace

filesystem_upload_store::filesystem_upload_store(filesystem_layout layout)
    : layout_(std::move(layout)), epoch_(boot_epoch()) {}

result<void> filesystem_upload_store::create_upload(const std::string& id) {
  int fd = ::open(layout_.upload(id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create upload", errno);
  ::close(fd);
  return {};
}

result<std::unique_ptr<upload_sink>> filesystem_upload_store::open_upload(const std::string& id, std::uint64_t offset,
                                                                          hasher& hash) {
  const auto path = layout_.upload(id);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_upload_unknown, "upload file missing");
    return io_error("open upload", errno);
  }
  file_handle append(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("stat upload", errno);
  const auto held = static_cast<std::uint64_t>(st.st_size);
  if (held < offset) {
    return make_error(errc::upload_out_of_order, "the upload holds fewer bytes than its checkpoint",
                      upload_detail{"", id, held});
  }
  // Bytes past the checkpoint came from a request that never finished: the next one rewrites them.
  if (held > offset && ::ftruncate(fd, static_cast<off_t>(offset)) != 0) return io_error("truncate upload", errno);
  // The same file for direct I/O, for large bodies; without it (no O_DIRECT here) the page cache.
  file_handle direct(::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
  return std::unique_ptr<upload_sink>(std::make_unique<filesystem_upload_sink>(
      layout_, id, std::move(append), std::move(direct), offset, hash, disk_io_));
}

result<std::unique_ptr<byte_reader>> filesystem_upload_store::read_upload(const std::string& id) {
  int fd = ::open(layout_.upload(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_upload_unknown, "upload file missing");
    return io_error("open upload", errno);
  }
  return std::unique_ptr<byte_reader>(std::make_unique<file_reader>(file_handle(fd)));
}

void filesystem_upload_store::remove_upload(const std::string& id) { ::unlink(layout_.upload(id).c_str()); }

std::vector<std::string> filesystem_upload_store::list_uploads() {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout_.uploads_dir(), ec)) {
    auto name = e.path().filename().string();
    if (is_valid_upload_id(name)) ids.push_back(std::move(name));
  }
  return ids;
}

void filesystem_upload_store::release_memory() { direct_appender::release_cached_buffers(); }

}  // namespace berth::storage
