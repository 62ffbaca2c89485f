// Committed blobs as objects (private header): read by ranged GETs streamed through Berth, or
// handed out as presigned URLs when the store is configured to redirect.
#pragma once

#include "berth/storage/blob_store.hpp"
#include "s3_client.hpp"

namespace berth::storage::s3 {

class s3_blob_store final : public blob_store {
 public:
  explicit s3_blob_store(std::shared_ptr<s3_client> client) : client_(std::move(client)) {}

  result<std::shared_ptr<blob_content>> open_blob(const digest& d) override;
  result<std::optional<std::uint64_t>> stat_blob(const digest& d) override;
  std::vector<std::pair<digest, std::int64_t>> list_blobs() override;
  result<void> trash_blob(const digest& d) override;
  result<void> restore_blob(const digest& d) override;
  void purge_blob(const digest& d) override;
  std::vector<digest> trashed_blobs() override;
  result<std::string> quarantine_blob(const digest& d) override;

 private:
  // Copies `from` to `to` and deletes `from`; nothing to do when `from` is gone already.
  result<void> move(const std::string& from, const std::string& to);
  std::shared_ptr<s3_client> client_;
};

}  // namespace berth::storage::s3
