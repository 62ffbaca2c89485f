// The blob store interface: content-addressed bytes and the temp files of uploads in progress.
// Metadata (which repository may see a blob) lives in meta/, not here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "berth/core/digest.hpp"
#include "berth/storage/file_handle.hpp"

namespace berth::storage {

struct opened_blob {
  std::shared_ptr<file_handle> file;
  std::uint64_t size = 0;
};

class blob_store {
 public:
  virtual ~blob_store() = default;

  // Upload temp files, keyed by a validated upload id.
  virtual result<void> create_upload(const std::string& id) = 0;
  // Opened for appending; the caller writes and hashes.
  virtual result<file_handle> open_upload_for_append(const std::string& id) = 0;
  virtual result<file_handle> open_upload_for_read(const std::string& id) = 0;
  // Opened read-write with O_DIRECT, for whole-block writes that bypass the page cache; an error
  // (the filesystem has no direct I/O, say) means the caller writes through the page cache.
  virtual result<file_handle> open_upload_direct(const std::string& id) = 0;
  virtual result<std::uint64_t> upload_size(const std::string& id) = 0;
  virtual void remove_upload(const std::string& id) = 0;
  virtual std::vector<std::string> list_uploads() = 0;
  // Makes the upload's bytes durable (slow: done before any lock is taken).
  virtual result<void> sync_upload(const std::string& id) = 0;
  // Moves synced bytes to the blob's address, atomically. Idempotent for equal content.
  virtual result<void> publish_upload(const std::string& id, const digest& d) = 0;

  virtual result<opened_blob> open_blob(const digest& d) = 0;
  virtual bool has_blob(const digest& d) = 0;

  // Garbage collection moves a blob to the trash inside its metadata transaction, and empties the
  // trash after the commit; a crash in between is undone by recover_trash.
  virtual result<void> trash_blob(const digest& d) = 0;
  virtual result<void> restore_blob(const digest& d) = 0;
  virtual void purge_blob(const digest& d) = 0;
  virtual std::vector<digest> trashed_blobs() = 0;
  // Every committed blob file with its modification time (seconds), for fsck and orphan sweeps.
  virtual std::vector<std::pair<digest, std::int64_t>> blob_files() = 0;
  virtual void remove_blob_file(const digest& d) = 0;
  // fsck --repair: moves a corrupt blob aside (never deletes it); returns where it went.
  virtual result<std::string> quarantine_blob(const digest& d) = 0;
};

}  // namespace berth::storage
