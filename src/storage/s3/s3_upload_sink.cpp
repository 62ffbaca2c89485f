#include "s3_upload_sink.hpp"

#include "../disk_io_pool.hpp"
#include "s3_layout.hpp"

namespace berth::storage::s3 {

namespace {
constexpr std::size_t max_parts = 10000;  // S3's limit for one multipart upload
}

s3_upload_sink::s3_upload_sink(std::shared_ptr<s3_client> client, disk_io_pool& pool, std::string id,
                               std::uint64_t offset, session_state state, hasher& hash)
    : client_(std::move(client)),
      pool_(pool),
      id_(std::move(id)),
      size_(offset),
      state_(std::move(state)),
      hash_(hash) {}

s3_upload_sink::~s3_upload_sink() { (void)wait_in_flight(); }

void s3_upload_sink::expect(std::optional<std::uint64_t> length) {
  const auto want = length ? std::min<std::uint64_t>(part_size(), state_.tail.size() + *length) : part_size();
  state_.tail.reserve(static_cast<std::size_t>(want));
}

result<void> s3_upload_sink::append(const char* data, std::size_t size) {
  if (failed_) return *failed_;
  if (state_.completed) return make_error(errc::internal, "the upload session was already committed");
  hash_.update(data, size);
  while (size > 0) {
    const auto room = static_cast<std::size_t>(part_size() - state_.tail.size());
    const auto take = std::min(room, size);
    state_.tail.append(data, take);
    size_ += take;
    data += take;
    size -= take;
    if (state_.tail.size() == part_size()) {
      if (auto r = ship_full_part(); !r) {
        failed_ = r.error_value();
        return r;
      }
    }
  }
  return {};
}

result<void> s3_upload_sink::ensure_multipart() {
  if (state_.multipart_id) return {};
  // A request that failed may have started one: its parts are overwritten, as the layout is fixed.
  auto existing = client_->get_object(multipart_key(id_), 4096);
  if (!existing) return existing.take_error();
  if (*existing && !(*existing)->empty()) {
    state_.multipart_id = **existing;
    return {};
  }
  auto made = client_->create_multipart(data_key(id_));
  if (!made) return made.take_error();
  if (auto r = client_->put_object(multipart_key(id_), *made); !r) return r;
  state_.multipart_id = std::move(made).value();
  return {};
}

result<void> s3_upload_sink::ship_full_part() {
  if (auto r = wait_in_flight(); !r) return r;
  if (state_.parts.size() + 1 >= max_parts) {
    return make_error(errc::size_invalid, "the blob is larger than the object store takes in " +
                                              std::to_string(max_parts) + " parts of " + std::to_string(part_size()) +
                                              " bytes (storage.s3.part_size)");
  }
  if (auto r = ensure_multipart(); !r) return r;
  auto body = std::make_shared<std::string>(std::move(state_.tail));
  state_.tail = std::string();
  state_.tail.reserve(static_cast<std::size_t>(part_size()));
  const int number = static_cast<int>(state_.parts.size()) + 1;
  auto done = std::make_shared<std::promise<result<std::string>>>();
  in_flight_ = done->get_future();
  in_flight_number_ = number;
  pool_.post([client = client_, key = data_key(id_), upload = *state_.multipart_id, number, body, done] {
    done->set_value(client->upload_part(key, upload, number, *body));
  });
  return {};
}

result<void> s3_upload_sink::wait_in_flight() {
  if (!in_flight_) return {};
  auto etag = in_flight_->get();
  in_flight_.reset();
  if (!etag) return etag.take_error();
  state_.parts.push_back({in_flight_number_, part_size(), std::move(etag).value()});
  return {};
}

result<void> s3_upload_sink::flush() {
  if (failed_) return *failed_;
  if (auto r = wait_in_flight(); !r) {
    failed_ = r.error_value();
    return r;
  }
  if (state_.completed || state_.tail.empty()) return {};
  return client_->put_object(tail_key(id_, state_.parts.size()), state_.tail);
}

result<void> s3_upload_sink::commit(const digest& d) {
  if (failed_) return *failed_;
  if (auto r = wait_in_flight(); !r) {
    failed_ = r.error_value();
    return r;
  }
  if (!state_.completed && state_.parts.empty()) {
    // Smaller than one part: the session's tail is kept (flush) and the blob written directly.
    if (auto r = flush(); !r) return r;
    return client_->put_object(blob_key(d), state_.tail);
  }
  if (!state_.completed) {
    if (!state_.tail.empty()) {
      const int number = static_cast<int>(state_.parts.size()) + 1;
      auto etag = client_->upload_part(data_key(id_), *state_.multipart_id, number, state_.tail);
      if (!etag) return etag.take_error();
      state_.parts.push_back({number, state_.tail.size(), std::move(etag).value()});
      state_.tail.clear();
    }
    if (auto r = client_->complete_multipart(data_key(id_), *state_.multipart_id, state_.parts); !r) return r;
    state_.completed = true;
  }
  return client_->copy_object(data_key(id_), blob_key(d), size_);
}

}  // namespace berth::storage::s3
