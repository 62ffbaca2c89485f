#include "s3_upload_store.hpp"

#include <algorithm>

#include "../disk_io_pool.hpp"
#include "s3_layout.hpp"
#include "s3_upload_sink.hpp"

namespace berth::storage::s3 {
namespace {

class string_reader final : public byte_reader {
 public:
  explicit string_reader(std::string s) : s_(std::move(s)) {}
  result<std::size_t> read(char* out, std::size_t size) override {
    const auto n = std::min(size, s_.size() - at_);
    std::copy_n(s_.data() + at_, n, out);
    at_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t at_ = 0;
};

error unknown_session() { return make_error(errc::blob_upload_unknown, "blob upload unknown to registry"); }

}  // namespace

s3_upload_store::s3_upload_store(std::shared_ptr<s3_client> client)
    : client_(std::move(client)),
      epoch_("s3:" + client_->options().endpoint + "/" + client_->options().bucket),
      part_io_(std::make_unique<disk_io_pool>(8)) {}

s3_upload_store::~s3_upload_store() = default;

result<void> s3_upload_store::create_upload(const std::string& id) { return client_->put_object(session_key(id), ""); }

std::uint64_t s3_upload_store::held_bytes(const std::string& id) {
  const auto p = client_->options().part_size;
  std::uint64_t full = 0;
  if (auto marker = client_->get_object(multipart_key(id), 4096); marker && *marker) {
    auto parts = client_->list_parts(data_key(id), **marker);
    if (parts && !*parts) {
      auto size = client_->head_object(data_key(id));
      return size && *size ? **size : 0;
    }
    if (parts && *parts) {
      auto sorted = **parts;
      std::sort(sorted.begin(), sorted.end(), [](const part& a, const part& b) { return a.number < b.number; });
      for (const auto& part : sorted) {
        if (part.number != static_cast<int>(full) + 1 || part.size != p) break;
        ++full;
      }
    }
  }
  auto tail = client_->head_object(tail_key(id, full));
  return full * p + (tail && *tail ? std::min(**tail, p) : 0);
}

result<std::unique_ptr<upload_sink>> s3_upload_store::open_upload(const std::string& id, std::uint64_t offset,
                                                                  hasher& hash) {
  auto exists = client_->head_object(session_key(id));
  if (!exists) return exists.take_error();
  if (!*exists) return unknown_session();
  const auto p = client_->options().part_size;
  const auto k = offset / p;
  const auto within = offset - k * p;
  auto out_of_order = [&] {
    return make_error(errc::upload_out_of_order, "the upload holds fewer bytes than its checkpoint",
                      upload_detail{"", id, held_bytes(id)});
  };
  session_state state;
  if (k > 0) {
    auto marker = client_->get_object(multipart_key(id), 4096);
    if (!marker) return marker.take_error();
    if (!*marker) return out_of_order();
    state.multipart_id = **marker;
    auto parts = client_->list_parts(data_key(id), **marker);
    if (!parts) return parts.take_error();
    if (!*parts) {
      // Completed by an earlier commit: the data object holds the whole session.
      auto size = client_->head_object(data_key(id));
      if (!size) return size.take_error();
      if (!*size || **size < offset) return out_of_order();
      state.completed = true;
      return std::unique_ptr<upload_sink>(
          std::make_unique<s3_upload_sink>(client_, *part_io_, id, **size, std::move(state), hash));
    }
    auto sorted = std::move(**parts);
    std::sort(sorted.begin(), sorted.end(), [](const part& a, const part& b) { return a.number < b.number; });
    for (std::uint64_t n = 1; n <= k; ++n) {
      if (sorted.size() < n || sorted[n - 1].number != static_cast<int>(n) || sorted[n - 1].size != p) {
        return out_of_order();
      }
    }
    sorted.resize(static_cast<std::size_t>(k));
    state.parts = std::move(sorted);
  }
  if (within > 0) {
    auto tail = client_->get_object(tail_key(id, k), static_cast<std::size_t>(p));
    if (!tail) return tail.take_error();
    if (!*tail || (*tail)->size() < within) return out_of_order();
    state.tail = (*tail)->substr(0, static_cast<std::size_t>(within));
  }
  return std::unique_ptr<upload_sink>(
      std::make_unique<s3_upload_sink>(client_, *part_io_, id, offset, std::move(state), hash));
}

result<std::unique_ptr<byte_reader>> s3_upload_store::read_upload(const std::string& id) {
  auto exists = client_->head_object(session_key(id));
  if (!exists) return exists.take_error();
  if (!*exists) return unknown_session();
  auto marker = client_->get_object(multipart_key(id), 4096);
  if (!marker) return marker.take_error();
  if (!*marker) {
    auto tail = client_->get_object(tail_key(id, 0), static_cast<std::size_t>(client_->options().part_size));
    if (!tail) return tail.take_error();
    return std::unique_ptr<byte_reader>(std::make_unique<string_reader>(tail->value_or("")));
  }
  auto parts = client_->list_parts(data_key(id), **marker);
  if (!parts) return parts.take_error();
  if (*parts) {
    return make_error(errc::unsupported,
                      "an object store cannot read back the parts of an unfinished multipart upload (its "
                      "checkpoints are always trusted, so Berth never needs to)");
  }
  auto size = client_->head_object(data_key(id));
  if (!size) return size.take_error();
  if (!*size) return make_error(errc::internal, "the upload's multipart object is missing");
  return std::unique_ptr<byte_reader>(client_->read_range(data_key(id), 0, **size));
}

void s3_upload_store::remove_upload(const std::string& id) {
  auto listed = client_->list(upload_prefix(id));
  if (!listed) return;  // the store is unreachable: the session stays listed for the next sweep
  std::vector<std::string> keys;
  bool has_multipart = false;
  for (const auto& o : listed->objects) {
    has_multipart = has_multipart || o.key == multipart_key(id);
    if (o.key != session_key(id)) keys.push_back(o.key);
  }
  if (has_multipart) {
    // The marker names the upload; a crash between creating an upload and writing its marker leaves
    // one S3 cannot tell us about cheaply (a bucket lifecycle rule for incomplete uploads clears it).
    if (auto marker = client_->get_object(multipart_key(id), 4096); marker && *marker) {
      (void)client_->abort_multipart(data_key(id), **marker);
    }
  }
  if (!keys.empty() && !client_->delete_objects(keys)) return;
  // Last: a removal cut short stays listed, and the next sweep finishes it.
  (void)client_->delete_object(session_key(id));
}

std::vector<std::string> s3_upload_store::list_uploads() {
  std::vector<std::string> out;
  auto listed = client_->list("uploads/", true);
  if (!listed) return out;
  for (const auto& p : listed->prefixes) {
    if (p.size() > 9 && p.back() == '/') out.push_back(p.substr(8, p.size() - 9));
  }
  return out;
}

}  // namespace berth::storage::s3
