#include "berth/registry/upload_session.hpp"

#include "berth/meta/upload_index.hpp"
#include "berth/storage/upload_store.hpp"

namespace berth {

upload_session::upload_session(place where, meta::upload_index& uploads, const clock& clk, hasher hash)
    : where_(std::move(where)), uploads_(uploads), clock_(clk), hash_(std::move(hash)) {}

upload_session::~upload_session() {
  if (!done_ && !failed_ && sink_ && sink_->size() != checkpointed_) (void)checkpoint();
  sink_.reset();  // waits for blocks in flight, which still feed hash_
  uploads_.release(where_.id, where_.writer);
  if (on_close_) on_close_();
}

void upload_session::attach(std::unique_ptr<storage::upload_sink> sink, std::uint64_t checkpointed) {
  sink_ = std::move(sink);
  checkpointed_ = checkpointed;
}

void upload_session::expect(std::optional<std::uint64_t> length) { sink_->expect(length); }

std::span<char> upload_session::receive_buffer() { return failed_ ? std::span<char>() : sink_->receive_buffer(); }

result<void> upload_session::write(const char* data, std::size_t size) {
  if (failed_) return make_error(errc::blob_upload_invalid, "an earlier write to this upload failed");
  auto r = sink_->append(data, size);
  if (!r) failed_ = true;  // the session holds an unknown part of this request: keep the last checkpoint
  return r;
}

std::uint64_t upload_session::size() const { return sink_ ? sink_->size() : checkpointed_; }

result<void> upload_session::checkpoint(std::optional<std::int64_t> part_size, std::int64_t min_part_size) {
  if (failed_) return make_error(errc::blob_upload_invalid, "an earlier write to this upload failed");
  if (auto r = sink_->flush(); !r) {
    failed_ = true;
    return r;
  }
  meta::upload_checkpoint c;
  c.id = where_.id;
  c.writer = where_.writer;
  c.size = sink_->size();
  c.hash_state = hash_.export_state();
  c.store_epoch = where_.store_epoch;
  c.now = clock_.now_seconds();
  c.part_size = part_size;
  c.min_part_size = min_part_size;
  if (auto r = uploads_.checkpoint(c); !r) return r;
  checkpointed_ = c.size;
  return {};
}

result<digest> upload_session::finish_hash() {
  if (failed_) return make_error(errc::blob_upload_invalid, "an earlier write to this upload failed");
  if (auto r = sink_->flush(); !r) {
    failed_ = true;
    return r.take_error();
  }
  // A store that lost track of the hash would commit bytes under the wrong name: refuse instead.
  if (hash_.bytes_hashed() != sink_->size()) {
    failed_ = true;
    return make_error(errc::internal, "upload hash covers " + std::to_string(hash_.bytes_hashed()) + " of " +
                                          std::to_string(sink_->size()) + " bytes");
  }
  return hash_.peek();
}

}  // namespace berth
