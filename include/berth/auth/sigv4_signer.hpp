// Signing Berth's own requests to AWS-style services (the S3 object store) with the SigV4 code
// the verifier uses: an Authorization header, or a presigned query string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::auth {

struct aws_credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

class sigv4_signer {
 public:
  sigv4_signer(aws_credentials credentials, std::string region, std::string service)
      : credentials_(std::move(credentials)), region_(std::move(region)), service_(std::move(service)) {}

  // Adds x-amz-date, x-amz-content-sha256 and Authorization to `headers`, which must hold Host.
  // `path` is not percent-encoded (it is encoded once, as S3 expects); `query` is encoded.
  // `payload_hash`: hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  void sign(std::string_view method, std::string_view path, std::string_view query,
            std::vector<std::pair<std::string, std::string>>& headers, std::string_view payload_hash,
            std::int64_t now) const;

  // The query string of a presigned URL for `path` (signed headers: host only), valid for
  // `expires_seconds`; `query` holds the request's own parameters (encoded), kept in front.
  std::string presign_query(std::string_view method, std::string_view path, std::string_view query,
                            std::string_view host, std::int64_t expires_seconds, std::int64_t now) const;

 private:
  std::string scope(std::string_view date) const;
  aws_credentials credentials_;
  std::string region_;
  std::string service_;
};

}  // namespace berth::auth
