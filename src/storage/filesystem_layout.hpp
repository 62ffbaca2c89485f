// Where the filesystem store keeps things, under the data directory:
//
//   <data>/blobs/<algorithm>/<first two hex>/<hex>   committed blob bytes, immutable
//   <data>/blobs/<algorithm>/<two hex>/<hex>.<id>    a commit in progress (hard link, then rename)
//   <data>/uploads/<upload id>                        bytes of an upload in progress
//   <data>/trash/<algorithm>-<hex>                    a blob being garbage-collected
//   <data>/quarantine/<algorithm>-<hex>.<time>        corrupt blobs moved aside by fsck --repair
//
// A blob appears at its address only by rename(2) of a fully written, fsync'd file, so a reader
// never sees a partial blob; a crash leaves at worst a stale upload or commit file.
#pragma once

#include <filesystem>
#include <string>

#include "berth/core/digest.hpp"
#include "berth/core/error.hpp"

namespace berth::storage {

class filesystem_layout {
 public:
  explicit filesystem_layout(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }

  std::filesystem::path blob(const digest& d) const;
  std::filesystem::path upload(const std::string& id) const;  // ids are validated again here
  std::filesystem::path trash(const digest& d) const;
  std::filesystem::path uploads_dir() const { return root_ / "uploads"; }
  std::filesystem::path trash_dir() const { return root_ / "trash"; }
  std::filesystem::path quarantine_dir() const { return root_ / "quarantine"; }
  std::filesystem::path blobs_dir(std::string_view algorithm) const { return root_ / "blobs" / algorithm; }

  // Creates the directories and proves the root writable.
  result<void> prepare() const;

 private:
  std::filesystem::path root_;
};

// errc::storage_full for ENOSPC/EDQUOT, errc::internal otherwise.
error io_error(const char* what, int err);
result<void> fsync_dir(const std::filesystem::path& dir);
result<void> ensure_dir(const std::filesystem::path& dir);

}  // namespace berth::storage
