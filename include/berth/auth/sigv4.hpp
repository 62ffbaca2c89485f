// AWS Signature Version 4: the canonical request, the string to sign, the signing key, and the
// verifier that authenticates a request (Authorization header or presigned query) against the
// credential store, within ECR's ±15 minute clock-skew window.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/auth/identity.hpp"
#include "berth/core/error.hpp"
#include "berth/http/message.hpp"

namespace berth::auth {

struct signable_request {
  std::string method;
  std::string path;   // as received, percent-encoded
  std::string query;  // as received, percent-encoded, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// A POST of the AWS JSON and Query APIs as received (clients send no X-Amz-Content-Sha256: the
// body is hashed here).
signable_request signable_post(const http::request& req);

// SigV4's percent-encoding: everything but unreserved characters (and '/' with keep_slash).
std::string uri_encode(std::string_view s, bool keep_slash);
std::string canonical_uri(std::string_view raw_path);
std::string canonical_query(std::string_view raw_query, bool drop_signature);
std::string canonical_request(const signable_request& r, const std::vector<std::string>& signed_headers);
std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical);
std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
std::string sha256_hex(std::string_view data);

struct authorization_header {
  std::string access_key_id;
  std::string date;  // YYYYMMDD of the credential scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lower-case, as listed
  std::string signature;
};
// "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ecr/aws4_request, SignedHeaders=a;b, Signature=hex"
result<authorization_header> parse_authorization_header(std::string_view value);

// Seconds since the epoch of an ISO 8601 basic timestamp (20150830T123600Z).
result<std::int64_t> parse_amz_date(std::string_view text);
std::string format_amz_date(std::int64_t epoch_seconds);

// `region` "": any region in the credential scope (IAM and STS: global services, signed with
// whatever region the client has configured).
class sigv4_verifier {
 public:
  sigv4_verifier(const credential_source& credentials, std::string region, std::string service,
                 std::int64_t max_skew_seconds = 15 * 60)
      : credentials_(credentials),
        region_(std::move(region)),
        service_(std::move(service)),
        max_skew_(max_skew_seconds) {}

  // `body_sha256` is the hex SHA-256 of the received body (the CLI sends no X-Amz-Content-Sha256).
  result<identity> verify(const signable_request& r, std::int64_t now) const;

 private:
  result<identity> verify_parts(const signable_request& r, const authorization_header& auth, std::string_view amz_date,
                                std::string_view payload_hash, std::int64_t now, bool presigned,
                                std::int64_t expires) const;
  const credential_source& credentials_;
  std::string region_;
  std::string service_;
  std::int64_t max_skew_;
};

}  // namespace berth::auth
