#include "berth/auth/sigv4_signer.hpp"

#include <algorithm>

#include "berth/auth/sigv4.hpp"
#include "berth/core/ascii.hpp"

namespace berth::auth {
std::string sigv4_signer::scope(std::string_view date) const {
  return std::string(date) + "/" + region_ + "/" + service_ + "/aws4_request";
}

void sigv4_signer::sign(std::string_view method, std::string_view path, std::string_view query,
                        std::vector<std::pair<std::string, std::string>>& headers, std::string_view payload_hash,
                        std::int64_t now) const {
  const auto amz_date = format_amz_date(now);
  const auto date = amz_date.substr(0, 8);
  headers.emplace_back("x-amz-date", amz_date);
  headers.emplace_back("x-amz-content-sha256", std::string(payload_hash));
  signable_request r{std::string(method), std::string(path), std::string(query), headers, std::string(payload_hash)};
  std::vector<std::string> names;
  for (const auto& h : headers) names.push_back(ascii_lower(h.first));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const auto canonical = canonical_request(r, names);
  const auto signature = hmac_sha256_hex(signing_key(credentials_.secret_access_key, date, region_, service_),
                                         string_to_sign(amz_date, scope(date), canonical));
  std::string signed_list;
  for (const auto& n : names) {
    if (!signed_list.empty()) signed_list += ';';
    signed_list += n;
  }
  headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + credentials_.access_key_id + "/" +
                                            scope(date) + ", SignedHeaders=" + signed_list +
                                            ", Signature=" + signature);
}

std::string sigv4_signer::presign_query(std::string_view method, std::string_view path, std::string_view query,
                                        std::string_view host, std::int64_t expires_seconds, std::int64_t now) const {
  const auto amz_date = format_amz_date(now);
  const auto date = amz_date.substr(0, 8);
  std::string q(query);
  if (!q.empty()) q += '&';
  q += "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" +
       uri_encode(credentials_.access_key_id + "/" + scope(date), false) + "&X-Amz-Date=" + amz_date +
       "&X-Amz-Expires=" + std::to_string(expires_seconds) + "&X-Amz-SignedHeaders=host";
  signable_request r{std::string(method), std::string(path), q, {{"host", std::string(host)}}, "UNSIGNED-PAYLOAD"};
  const auto canonical = canonical_request(r, {"host"});
  const auto signature = hmac_sha256_hex(signing_key(credentials_.secret_access_key, date, region_, service_),
                                         string_to_sign(amz_date, scope(date), canonical));
  return q + "&X-Amz-Signature=" + signature;
}

}  // namespace berth::auth
