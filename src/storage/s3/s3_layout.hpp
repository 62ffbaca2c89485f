// Where things live in the bucket (private header; docs/scale-out.md, "Blobs on S3"):
//   blobs/<algorithm>/<first two hex>/<hex>   committed blobs
//   trash/<algorithm>/<hex>                   blobs GC has removed but not yet purged
//   quarantine/<algorithm>/<hex>.<seconds>    corrupt blobs fsck --repair moved aside
//   uploads/<id>/session                      an upload session exists (written first, removed last)
//   uploads/<id>/multipart                    the id of the session's S3 multipart upload
//   uploads/<id>/data                         the multipart upload's object, once completed
//   uploads/<id>/tail.<k>                     bytes received after part k's end, not yet a part
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "berth/core/digest.hpp"

namespace berth::storage::s3 {

inline std::string blob_key(const digest& d) {
  return "blobs/" + std::string(d.algorithm_name()) + "/" + d.hex().substr(0, 2) + "/" + d.hex();
}
inline std::string trash_key(const digest& d) { return "trash/" + std::string(d.algorithm_name()) + "/" + d.hex(); }
inline std::string upload_prefix(const std::string& id) { return "uploads/" + id + "/"; }
inline std::string session_key(const std::string& id) { return upload_prefix(id) + "session"; }
inline std::string multipart_key(const std::string& id) { return upload_prefix(id) + "multipart"; }
inline std::string data_key(const std::string& id) { return upload_prefix(id) + "data"; }
inline std::string tail_key(const std::string& id, std::uint64_t k) {
  return upload_prefix(id) + "tail." + std::to_string(k);
}

// The digest a blobs/ or trash/ key names.
inline std::optional<digest> digest_of_key(std::string_view key) {
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto hex = key.substr(slash + 1);
  auto first = key.find('/');
  if (first == std::string_view::npos || first == slash) return std::nullopt;
  auto rest = key.substr(first + 1);
  auto alg = rest.substr(0, rest.find('/'));
  auto d = digest::parse(std::string(alg) + ":" + std::string(hex));
  if (!d) return std::nullopt;
  return *d;
}

}  // namespace berth::storage::s3
