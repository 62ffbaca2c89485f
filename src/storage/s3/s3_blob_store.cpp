#include "s3_blob_store.hpp"

#include <ctime>

#include "s3_layout.hpp"

namespace berth::storage::s3 {
namespace {

class object_blob final : public blob_content {
 public:
  object_blob(std::shared_ptr<s3_client> client, std::string key, std::uint64_t size)
      : client_(std::move(client)), key_(std::move(key)), size_(size) {}
  std::uint64_t size() const override { return size_; }
  result<byte_source> bytes(std::uint64_t offset, std::uint64_t length, bool may_redirect) override {
    if (offset > size_ || length > size_ - offset) return make_error(errc::range_invalid, "outside the blob");
    if (may_redirect && client_->options().redirect) return byte_source(redirect_source{client_->presigned_get(key_)});
    return byte_source(stream_source{std::shared_ptr<byte_reader>(client_->read_range(key_, offset, length)), length});
  }

 private:
  std::shared_ptr<s3_client> client_;
  std::string key_;
  std::uint64_t size_;
};

}  // namespace

result<std::shared_ptr<blob_content>> s3_blob_store::open_blob(const digest& d) {
  auto key = blob_key(d);
  auto size = client_->head_object(key);
  if (!size) return size.take_error();
  if (!*size) return make_error(errc::blob_unknown, "blob unknown to registry");
  return std::shared_ptr<blob_content>(std::make_shared<object_blob>(client_, std::move(key), **size));
}

result<std::optional<std::uint64_t>> s3_blob_store::stat_blob(const digest& d) {
  return client_->head_object(blob_key(d));
}

std::vector<std::pair<digest, std::int64_t>> s3_blob_store::list_blobs() {
  std::vector<std::pair<digest, std::int64_t>> out;
  auto listed = client_->list("blobs/");
  if (!listed) return out;
  for (const auto& o : listed->objects) {
    if (auto d = digest_of_key(o.key); d && blob_key(*d) == o.key) out.emplace_back(*d, o.modified);
  }
  return out;
}

result<void> s3_blob_store::move(const std::string& from, const std::string& to) {
  auto size = client_->head_object(from);
  if (!size) return size.take_error();
  if (!*size) return {};
  if (auto r = client_->copy_object(from, to, **size); !r) return r;
  return client_->delete_object(from);
}

result<void> s3_blob_store::trash_blob(const digest& d) { return move(blob_key(d), trash_key(d)); }

result<void> s3_blob_store::restore_blob(const digest& d) { return move(trash_key(d), blob_key(d)); }

void s3_blob_store::purge_blob(const digest& d) { (void)client_->delete_object(trash_key(d)); }

std::vector<digest> s3_blob_store::trashed_blobs() {
  std::vector<digest> out;
  auto listed = client_->list("trash/");
  if (!listed) return out;
  for (const auto& o : listed->objects) {
    if (auto d = digest_of_key(o.key); d && trash_key(*d) == o.key) out.push_back(*d);
  }
  return out;
}

result<std::string> s3_blob_store::quarantine_blob(const digest& d) {
  auto to = "quarantine/" + std::string(d.algorithm_name()) + "/" + d.hex() + "." + std::to_string(std::time(nullptr));
  if (auto r = move(blob_key(d), to); !r) return r.take_error();
  return "s3://" + client_->options().bucket + "/" + to;
}

}  // namespace berth::storage::s3
