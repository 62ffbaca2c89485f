#include "berth/storage/filesystem_storage.hpp"

#include "filesystem_blob_store.hpp"
#include "filesystem_upload_store.hpp"

namespace berth::storage {

result<filesystem_storage> open_filesystem_storage(const std::filesystem::path& data_dir) {
  filesystem_layout layout(data_dir);
  if (auto r = layout.prepare(); !r) return r.take_error();
  filesystem_storage s;
  s.blobs = std::make_unique<filesystem_blob_store>(layout);
  s.uploads = std::make_unique<filesystem_upload_store>(layout);
  return s;
}

}  // namespace berth::storage
