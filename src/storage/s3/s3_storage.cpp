#include "berth/storage/s3_storage.hpp"

#include "s3_blob_store.hpp"
#include "s3_upload_store.hpp"

namespace berth::storage {

result<s3_storage> open_s3_storage(const s3_options& options) {
  auto client = s3::s3_client::connect(options);
  if (!client) return client.take_error();
  std::shared_ptr<s3::s3_client> shared = std::move(client).value();
  if (auto r = shared->ensure_bucket(); !r) return r.take_error();
  s3_storage s;
  s.blobs = std::make_unique<s3::s3_blob_store>(shared);
  s.uploads = std::make_unique<s3::s3_upload_store>(shared);
  return s;
}

}  // namespace berth::storage
