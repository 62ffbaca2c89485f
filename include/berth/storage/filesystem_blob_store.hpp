// Blob store on a local filesystem. On-disk layout under the data directory:
//
//   <data>/blobs/<algorithm>/<first two hex>/<hex>   committed blob bytes, immutable
//   <data>/uploads/<upload id>                        bytes of an upload in progress
//   <data>/trash/<algorithm>-<hex>                    a blob being garbage-collected
//   <data>/quarantine/<algorithm>-<hex>.<time>        corrupt blobs moved aside by fsck --repair
//
// A blob appears at its address only by rename(2) of a fully written, fsync'd upload file,
// so a reader never sees a partial blob, and a crash leaves at worst a stale upload file.
#pragma once

#include <filesystem>

#include "berth/storage/blob_store.hpp"

namespace berth::storage {

class filesystem_blob_store final : public blob_store {
 public:
  // Creates the directories; fails if the data directory is not writable.
  static result<std::unique_ptr<filesystem_blob_store>> open(const std::filesystem::path& data_dir);

  result<void> create_upload(const std::string& id) override;
  result<file_handle> open_upload_for_append(const std::string& id) override;
  result<file_handle> open_upload_for_read(const std::string& id) override;
  result<file_handle> open_upload_direct(const std::string& id) override;
  result<std::uint64_t> upload_size(const std::string& id) override;
  void remove_upload(const std::string& id) override;
  std::vector<std::string> list_uploads() override;
  result<void> sync_upload(const std::string& id) override;
  result<void> publish_upload(const std::string& id, const digest& d) override;

  result<opened_blob> open_blob(const digest& d) override;
  bool has_blob(const digest& d) override;
  result<void> trash_blob(const digest& d) override;
  result<void> restore_blob(const digest& d) override;
  void purge_blob(const digest& d) override;
  std::vector<digest> trashed_blobs() override;
  std::vector<std::pair<digest, std::int64_t>> blob_files() override;
  void remove_blob_file(const digest& d) override;
  result<std::string> quarantine_blob(const digest& d) override;

  std::filesystem::path blob_path(const digest& d) const;

 private:
  explicit filesystem_blob_store(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path upload_path(const std::string& id) const;
  std::filesystem::path trash_path(const digest& d) const;

  std::filesystem::path root_;
};

}  // namespace berth::storage
