#include "berth/storage/blob_archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "berth/core/names.hpp"
#include "filesystem_layout.hpp"

namespace berth::storage {
namespace {

class fd_reader final : public byte_reader {
 public:
  explicit fd_reader(int fd) : fd_(fd) {}
  ~fd_reader() override { ::close(fd_); }
  result<std::size_t> read(char* out, std::size_t size) override {
    for (;;) {
      auto n = ::read(fd_, out, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return io_error("read a backed-up blob", errno);
    }
  }

 private:
  int fd_;
};

}  // namespace

std::filesystem::path blob_archive::path_of(const digest& d) const { return filesystem_layout(root_).blob(d); }

bool blob_archive::holds(const digest& d, std::uint64_t size) const {
  struct stat st {};
  return ::stat(path_of(d).c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == size;
}

result<std::unique_ptr<byte_reader>> blob_archive::open(const digest& d) const {
  int fd = ::open(path_of(d).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_unknown, "blob " + d.str() + " is not in " + root_.string());
    return io_error("open a backed-up blob", errno);
  }
  return std::unique_ptr<byte_reader>(new fd_reader(fd));
}

result<void> blob_archive::put(const digest& d, std::uint64_t size, byte_reader& from,
                               const std::function<void(std::uint64_t)>& copied) {
  const auto final_path = path_of(d);
  if (auto r = ensure_dir(final_path.parent_path()); !r) return r;
  const auto tmp = final_path.string() + "." + new_upload_id() + ".partial";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create a blob in the backup", errno);
  auto abandon = [&](result<void> why) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return why;
  };
  hasher h(d.algorithm());
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    auto n = from.read(buf.data(), buf.size());
    if (!n) return abandon(n.take_error());
    if (*n == 0) break;
    h.update(buf.data(), *n);
    total += *n;
    if (total > size) break;
    for (std::size_t done = 0; done < *n;) {
      auto w = ::write(fd, buf.data() + done, *n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return abandon(io_error("write a blob in the backup", errno));
      done += static_cast<std::size_t>(w);
    }
    if (copied) copied(*n);
  }
  if (total != size || h.peek() != d) {
    return abandon(make_error(errc::digest_invalid, "blob " + d.str() + " read back as " + std::to_string(total) +
                                                        " bytes hashing to " + h.peek().str() + ", not " +
                                                        std::to_string(size) + " bytes"));
  }
  if (::fsync(fd) != 0) return abandon(io_error("fsync a blob in the backup", errno));
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("rename a blob in the backup", err);
  }
  return fsync_dir(final_path.parent_path());
}

}  // namespace berth::storage
