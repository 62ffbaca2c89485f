// The S3 operations the object store backend uses, signed with SigV4 (payloads UNSIGNED-PAYLOAD:
// Berth hashes every blob itself, once, and fsck checks the stored bytes against their digest).
// Errors: the store unreachable, timing out or answering 5xx → errc::unavailable; a full store →
// errc::storage_full; anything else unexpected → errc::internal, with S3's code in the message.
// Private header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/auth/sigv4_signer.hpp"
#include "berth/core/byte_source.hpp"
#include "berth/http/http_client.hpp"
#include "berth/storage/s3_storage.hpp"

namespace berth::storage::s3 {

struct listed_object {
  std::string key;
  std::uint64_t size = 0;
  std::int64_t modified = 0;  // seconds since the epoch
};

struct listing {
  std::vector<listed_object> objects;
  std::vector<std::string> prefixes;  // with a delimiter: the common prefixes
};

struct part {
  int number = 0;
  std::uint64_t size = 0;
  std::string etag;
};

class s3_client {
 public:
  static result<std::unique_ptr<s3_client>> connect(const s3_options& options);

  // Creates the bucket when HEAD says it is not there.
  result<void> ensure_bucket();

  result<void> put_object(const std::string& key, std::string_view body);
  // nullopt: no such object.
  result<std::optional<std::uint64_t>> head_object(const std::string& key);
  // A small object's bytes (at most `max` of them); nullopt: no such object.
  result<std::optional<std::string>> get_object(const std::string& key, std::size_t max = 64 * 1024 * 1024);
  // The bytes [offset, offset + length) of an object, read as they arrive; the GET is sent on the
  // first read, so a reader that is never read costs nothing.
  std::unique_ptr<byte_reader> read_range(const std::string& key, std::uint64_t offset, std::uint64_t length);
  // An absent object is not an error.
  result<void> delete_object(const std::string& key);
  // Up to 1000 objects in one request (DeleteObjects); absent ones are not an error.
  result<void> delete_objects(const std::vector<std::string>& keys);
  // Server-side copy of an object of `size` bytes (one CopyObject, or parts over max_single_copy).
  result<void> copy_object(const std::string& from, const std::string& to, std::uint64_t size);
  // Every object under `prefix` (all pages); with `delimiter`, keys past it are grouped as prefixes.
  result<listing> list(const std::string& prefix, bool delimited = false);

  result<std::string> create_multipart(const std::string& key);
  // The part's ETag.
  result<std::string> upload_part(const std::string& key, const std::string& upload_id, int number,
                                  std::string_view body);
  // nullopt: no such upload (completed or aborted).
  result<std::optional<std::vector<part>>> list_parts(const std::string& key, const std::string& upload_id);
  result<void> complete_multipart(const std::string& key, const std::string& upload_id, const std::vector<part>& parts);
  result<void> abort_multipart(const std::string& key, const std::string& upload_id);
  // Every unfinished multipart upload under `prefix`: (key, upload id).
  result<std::vector<std::pair<std::string, std::string>>> list_multipart(const std::string& prefix);

  // A presigned GET URL for the object, valid for options.presign_expiry_seconds.
  std::string presigned_get(const std::string& key) const;

  const s3_options& options() const { return options_; }

 private:
  s3_client(s3_options options, std::shared_ptr<http::http_client> http, std::string base_url);
  // The request's target for `key` (path-style: /bucket/key) with an encoded query.
  std::string path_of(std::string_view key) const;
  http::client_request make_request(std::string method, std::string_view key, std::string query, std::string_view body,
                                    bool sign_body,
                                    std::vector<std::pair<std::string, std::string>> headers = {}) const;
  result<http::client_response> send(http::client_request r, std::size_t max_body = 16 * 1024 * 1024);

  s3_options options_;
  std::shared_ptr<http::http_client> http_;
  std::string base_url_;
  auth::sigv4_signer signer_;
};

// The error for an S3 response that is not what the operation expects.
error s3_error(std::string_view operation, const http::client_response& r);
// Percent-encodes a query parameter's value (everything but unreserved characters).
std::string encode_query_value(std::string_view v);
// An ISO 8601 time as S3 lists it (2026-12-02T04:44:54.000Z), in seconds; 0 when unreadable.
std::int64_t parse_iso8601(std::string_view text);

}  // namespace berth::storage::s3
