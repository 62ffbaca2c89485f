// Upload sessions in the bucket (private header). A session's bytes are cut at fixed offsets into
// parts of options.part_size: part k+1 holds [k·P, (k+1)·P) and goes to the session's S3 multipart
// upload as soon as it is full; what follows the last full part is in memory while a request runs
// and is written at flush() as the object tail.<k>. Any server can so continue any session from a
// checkpoint c: parts 1..⌊c/P⌋ are in the multipart upload, and tail.⌊c/P⌋ starts with the bytes up
// to c (a later request that failed may have written more, but never different bytes before c).
// Commit completes the multipart upload to uploads/<id>/data and copies it to the blob's key; a
// blob smaller than one part is written there directly. Checkpoints are always trusted (the store
// acknowledges only durable writes): the epoch never changes.
#pragma once

#include "berth/storage/upload_store.hpp"
#include "s3_client.hpp"

namespace berth::storage {
class disk_io_pool;
}

namespace berth::storage::s3 {

class s3_upload_store final : public upload_store {
 public:
  explicit s3_upload_store(std::shared_ptr<s3_client> client);
  ~s3_upload_store() override;

  result<void> create_upload(const std::string& id) override;
  result<std::unique_ptr<upload_sink>> open_upload(const std::string& id, std::uint64_t offset, hasher& hash) override;
  result<std::unique_ptr<byte_reader>> read_upload(const std::string& id) override;
  void remove_upload(const std::string& id) override;
  std::vector<std::string> list_uploads() override;
  std::string epoch() const override { return epoch_; }

 private:
  // What the session holds, for the error that tells a client where to continue.
  std::uint64_t held_bytes(const std::string& id);

  std::shared_ptr<s3_client> client_;
  std::string epoch_;
  std::unique_ptr<disk_io_pool> part_io_;  // uploads full parts while the connection receives more
};

}  // namespace berth::storage::s3
