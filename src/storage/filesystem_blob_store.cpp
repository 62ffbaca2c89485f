#include "berth/storage/filesystem_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "berth/core/names.hpp"

namespace berth::storage {
namespace fs = std::filesystem;
namespace {

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

}  // namespace

result<std::unique_ptr<filesystem_blob_store>> filesystem_blob_store::open(const fs::path& data_dir) {
  for (auto sub : {"blobs/sha256", "blobs/sha512", "uploads", "trash", "quarantine"}) {
    if (auto r = ensure_dir(data_dir / sub); !r) return r.take_error();
  }
  // Prove the directory is writable now rather than at the first push.
  auto probe = data_dir / "uploads" / ".write-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(("data directory not writable: " + data_dir.string()).c_str(), errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return std::unique_ptr<filesystem_blob_store>(new filesystem_blob_store(data_dir));
}

fs::path filesystem_blob_store::upload_path(const std::string& id) const {
  // Ids are validated by the caller; checked again because a path is built from it.
  if (!is_valid_upload_id(id)) return root_ / "uploads" / "invalid";
  return root_ / "uploads" / id;
}

fs::path filesystem_blob_store::blob_path(const digest& d) const {
  return root_ / "blobs" / std::string(d.algorithm_name()) / d.hex().substr(0, 2) / d.hex();
}

result<void> filesystem_blob_store::create_upload(const std::string& id) {
  int fd = ::open(upload_path(id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create upload", errno);
  ::close(fd);
  return {};
}

result<file_handle> filesystem_blob_store::open_upload_for_append(const std::string& id) {
  int fd = ::open(upload_path(id).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_upload_unknown, "upload file missing");
    return io_error("open upload", errno);
  }
  return file_handle(fd);
}

result<file_handle> filesystem_blob_store::open_upload_for_read(const std::string& id) {
  int fd = ::open(upload_path(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_upload_unknown, "upload file missing");
    return io_error("open upload", errno);
  }
  return file_handle(fd);
}

result<file_handle> filesystem_blob_store::open_upload_direct(const std::string& id) {
  int fd = ::open(upload_path(id).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return io_error("open upload for direct I/O", errno);
  return file_handle(fd);
}

result<std::uint64_t> filesystem_blob_store::upload_size(const std::string& id) {
  struct stat st {};
  if (::stat(upload_path(id).c_str(), &st) != 0) {
    if (errno == ENOENT) return make_error(errc::blob_upload_unknown, "upload file missing");
    return io_error("stat upload", errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

void filesystem_blob_store::remove_upload(const std::string& id) { ::unlink(upload_path(id).c_str()); }

std::vector<std::string> filesystem_blob_store::list_uploads() {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "uploads", ec)) {
    auto name = e.path().filename().string();
    if (is_valid_upload_id(name)) ids.push_back(std::move(name));
  }
  return ids;
}

result<void> filesystem_blob_store::sync_upload(const std::string& id) {
  int fd = ::open(upload_path(id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open upload for commit", errno);
  file_handle h(fd);
  if (::fdatasync(fd) != 0) return io_error("fdatasync upload", errno);
  return {};
}

result<void> filesystem_blob_store::publish_upload(const std::string& id, const digest& d) {
  auto from = upload_path(id);
  auto to = blob_path(d);
  if (auto r = ensure_dir(to.parent_path()); !r) return r;
  if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename upload into place", errno);
  if (auto r = fsync_dir(to.parent_path()); !r) return r;
  return fsync_dir(from.parent_path());
}

fs::path filesystem_blob_store::trash_path(const digest& d) const {
  return root_ / "trash" / (std::string(d.algorithm_name()) + "-" + d.hex());
}

result<void> filesystem_blob_store::trash_blob(const digest& d) {
  auto from = blob_path(d);
  auto to = trash_path(d);
  if (::rename(from.c_str(), to.c_str()) != 0) {
    if (errno == ENOENT) return {};  // already gone: nothing to keep
    return io_error("move blob to trash", errno);
  }
  if (auto r = fsync_dir(to.parent_path()); !r) return r;
  return fsync_dir(from.parent_path());
}

result<void> filesystem_blob_store::restore_blob(const digest& d) {
  auto from = trash_path(d);
  auto to = blob_path(d);
  if (auto r = ensure_dir(to.parent_path()); !r) return r;
  if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return io_error("restore blob from trash", errno);
  return fsync_dir(to.parent_path());
}

void filesystem_blob_store::purge_blob(const digest& d) { ::unlink(trash_path(d).c_str()); }

std::vector<digest> filesystem_blob_store::trashed_blobs() {
  std::vector<digest> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "trash", ec)) {
    auto name = e.path().filename().string();
    auto dash = name.find('-');
    if (dash == std::string::npos) continue;
    if (auto d = digest::parse(name.substr(0, dash) + ":" + name.substr(dash + 1))) out.push_back(*d);
  }
  return out;
}

std::vector<std::pair<digest, std::int64_t>> filesystem_blob_store::blob_files() {
  std::vector<std::pair<digest, std::int64_t>> out;
  for (auto alg : {"sha256", "sha512"}) {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(root_ / "blobs" / alg, ec)) {
      if (!e.is_regular_file()) continue;
      auto d = digest::parse(std::string(alg) + ":" + e.path().filename().string());
      if (!d) continue;
      struct stat st {};
      if (::stat(e.path().c_str(), &st) != 0) continue;
      out.emplace_back(*d, static_cast<std::int64_t>(st.st_mtime));
    }
  }
  return out;
}

void filesystem_blob_store::remove_blob_file(const digest& d) { ::unlink(blob_path(d).c_str()); }

result<std::string> filesystem_blob_store::quarantine_blob(const digest& d) {
  auto to =
      root_ / "quarantine" / (std::string(d.algorithm_name()) + "-" + d.hex() + "." + std::to_string(::time(nullptr)));
  if (::rename(blob_path(d).c_str(), to.c_str()) != 0) return io_error("quarantine blob", errno);
  return to.string();
}

result<opened_blob> filesystem_blob_store::open_blob(const digest& d) {
  int fd = ::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(errc::blob_unknown, "blob unknown to registry");
    return io_error("open blob", errno);
  }
  auto h = std::make_shared<file_handle>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("stat blob", errno);
  return opened_blob{std::move(h), static_cast<std::uint64_t>(st.st_size)};
}

bool filesystem_blob_store::has_blob(const digest& d) {
  struct stat st {};
  return ::stat(blob_path(d).c_str(), &st) == 0;
}

}  // namespace berth::storage
