// Committed blobs as files (see filesystem_layout.hpp); served with sendfile from an open
// descriptor.
#include "filesystem_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "file_handle.hpp"

namespace berth::storage {
namespace fs = std::filesystem;
namespace {

// An open blob file: the descriptor stays open for as long as a response sends from it.
class file_blob final : public blob_content, public std::enable_shared_from_this<file_blob> {
 public:
  file_blob(file_handle fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}
  std::uint64_t size() const override { return size_; }
  result<byte_source> bytes(std::uint64_t offset, std::uint64_t length, bool) override {
    if (offset > size_ || length > size_ - offset) return make_error(errc::range_invalid, "outside the blob");
    return byte_source(file_region{shared_from_this(), fd_.get(), offset, length});
  }

 private:
  file_handle fd_;
  std::uint64_t size_;
};

}  // namespace

result<std::shared_ptr<blob_content>> filesystem_blob_store::open_blob(const digest& d) {
  int fd = ::open(layout_.blob(d).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_unknown, "blob unknown to registry");
    return io_error("open blob", errno);
  }
  file_handle h(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("stat blob", errno);
  return std::shared_ptr<blob_content>(
      std::make_shared<file_blob>(std::move(h), static_cast<std::uint64_t>(st.st_size)));
}

result<std::optional<std::uint64_t>> filesystem_blob_store::stat_blob(const digest& d) {
  struct stat st {};
  if (::stat(layout_.blob(d).c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<std::uint64_t>();
    return io_error("stat blob", errno);
  }
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(st.st_size));
}

std::vector<std::pair<digest, std::int64_t>> filesystem_blob_store::list_blobs() {
  std::vector<std::pair<digest, std::int64_t>> out;
  for (auto alg : {"sha256", "sha512"}) {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(layout_.blobs_dir(alg), ec)) {
      if (!e.is_regular_file()) continue;
      auto d = digest::parse(std::string(alg) + ":" + e.path().filename().string());
      if (!d) continue;  // a commit in progress (<hex>.<id>)
      struct stat st {};
      if (::stat(e.path().c_str(), &st) != 0) continue;
      out.emplace_back(*d, static_cast<std::int64_t>(st.st_mtime));
    }
  }
  return out;
}

result<void> filesystem_blob_store::trash_blob(const digest& d) {
  auto from = layout_.blob(d);
  auto to = layout_.trash(d);
  if (::rename(from.c_str(), to.c_str()) != 0) {
    if (errno == ENOENT) return {};  // already gone: nothing to keep
    return io_error("move blob to trash", errno);
  }
  if (auto r = fsync_dir(to.parent_path()); !r) return r;
  return fsync_dir(from.parent_path());
}

result<void> filesystem_blob_store::restore_blob(const digest& d) {
  auto from = layout_.trash(d);
  auto to = layout_.blob(d);
  if (auto r = ensure_dir(to.parent_path()); !r) return r;
  if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return io_error("restore blob from trash", errno);
  return fsync_dir(to.parent_path());
}

void filesystem_blob_store::purge_blob(const digest& d) { ::unlink(layout_.trash(d).c_str()); }

std::vector<digest> filesystem_blob_store::trashed_blobs() {
  std::vector<digest> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout_.trash_dir(), ec)) {
    auto name = e.path().filename().string();
    auto dash = name.find('-');
    if (dash == std::string::npos) continue;
    if (auto d = digest::parse(name.substr(0, dash) + ":" + name.substr(dash + 1))) out.push_back(*d);
  }
  return out;
}

result<std::string> filesystem_blob_store::quarantine_blob(const digest& d) {
  auto to = layout_.quarantine_dir() /
            (std::string(d.algorithm_name()) + "-" + d.hex() + "." + std::to_string(::time(nullptr)));
  if (::rename(layout_.blob(d).c_str(), to.c_str()) != 0) return io_error("quarantine blob", errno);
  return to.string();
}

}  // namespace berth::storage
