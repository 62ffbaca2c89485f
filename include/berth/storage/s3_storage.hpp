// The S3-compatible object store backend (AWS S3, Ceph RGW, MinIO …): the blob store and the
// upload store in one bucket, shared by every server of a fleet. Key layout and upload protocol:
// docs/scale-out.md, "Blobs on S3".
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "berth/storage/blob_store.hpp"
#include "berth/storage/upload_store.hpp"

namespace berth::storage {

struct s3_options {
  std::string endpoint;  // http(s)://host[:port]
  std::string region = "us-east-1";
  std::string bucket;
  std::string access_key_id;
  std::string secret_access_key;
  bool path_style = true;  // http://host/bucket/key; false: http://bucket.host/key
  bool redirect = false;   // blob GETs answered with a 307 to a presigned URL
  // Upload bytes go to the store as multipart parts of this size (the last may be smaller):
  // 10,000 parts bound an upload to 10,000 × part_size. AWS needs at least 5 MiB.
  std::uint64_t part_size = 16u * 1024 * 1024;
  // Blobs larger than this are copied (commit, trash, restore) as parts, not with one CopyObject
  // (AWS's limit is 5 GiB).
  std::uint64_t max_single_copy = 5ull * 1024 * 1024 * 1024;
  std::int64_t presign_expiry_seconds = 20 * 60;
  std::size_t max_idle_connections = 64;
};

struct s3_storage {
  std::unique_ptr<blob_store> blobs;
  std::unique_ptr<upload_store> uploads;
};

// Connects and checks the bucket, creating it when it does not exist. errc::unavailable when the
// store cannot be reached; errc::invalid_parameter for a bad endpoint or refused credentials.
result<s3_storage> open_s3_storage(const s3_options& options);

}  // namespace berth::storage
