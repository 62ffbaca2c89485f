// Appends to one upload session in the bucket (private header; the protocol is described in
// s3_upload_store.hpp). Full parts are uploaded on a pool thread while the next one fills, at
// most one in flight per sink, so a sink holds at most two parts in memory.
#pragma once

#include <future>
#include <optional>

#include "berth/storage/upload_store.hpp"
#include "s3_client.hpp"

namespace berth::storage {
class disk_io_pool;
}

namespace berth::storage::s3 {

struct session_state {
  std::optional<std::string> multipart_id;  // the S3 upload id, once there is one
  std::vector<part> parts;                  // parts 1..k, each part_size bytes
  std::string tail;                         // the bytes after part k, up to the checkpoint
  bool completed = false;                   // uploads/<id>/data holds every byte (commit only copies)
};

class s3_upload_sink final : public upload_sink {
 public:
  s3_upload_sink(std::shared_ptr<s3_client> client, disk_io_pool& pool, std::string id, std::uint64_t offset,
                 session_state state, hasher& hash);
  ~s3_upload_sink() override;

  void expect(std::optional<std::uint64_t> length) override;
  std::span<char> receive_buffer() override { return {}; }
  result<void> append(const char* data, std::size_t size) override;
  result<void> flush() override;
  std::uint64_t size() const override { return size_; }
  result<void> commit(const digest& d) override;

 private:
  result<void> ship_full_part();
  result<void> wait_in_flight();
  result<void> ensure_multipart();
  std::uint64_t part_size() const { return client_->options().part_size; }

  std::shared_ptr<s3_client> client_;
  disk_io_pool& pool_;
  std::string id_;
  std::uint64_t size_;
  session_state state_;
  hasher& hash_;
  std::optional<std::future<result<std::string>>> in_flight_;
  int in_flight_number_ = 0;
  std::optional<error> failed_;
};

}  // namespace berth::storage::s3
