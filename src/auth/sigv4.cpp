#include "berth/auth/sigv4.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>

#include "berth/core/ascii.hpp"
#include "berth/http/message.hpp"

namespace berth::auth {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 0xf]);
  }
  return s;
}

std::string hmac_raw(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// Trims and collapses runs of spaces, as the canonical header form requires.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

error incomplete(std::string message) { return make_error(errc::incomplete_signature, std::move(message)); }

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  auto raw = hmac_raw(key, data);
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string canonical_uri(std::string_view raw_path) {
  // Normalize dot segments and empty segments, then encode what was received (so '%' becomes %25,
  // as botocore double-encodes for every service but S3).
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= raw_path.size()) {
    auto slash = raw_path.find('/', i);
    auto seg = raw_path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  std::string path = "/";
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k) path += '/';
    path += out[k];
  }
  if (out.size() && raw_path.size() > 1 && raw_path.back() == '/') path += '/';
  return uri_encode(path, true);
}

std::string canonical_query(std::string_view raw_query, bool drop_signature) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!raw_query.empty()) {
    auto amp = raw_query.find('&');
    auto pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = http::percent_decode(pair.substr(0, eq), false);
    auto value = eq == std::string_view::npos ? std::string() : http::percent_decode(pair.substr(eq + 1), false);
    if (drop_signature && key == "X-Amz-Signature") continue;
    params.emplace_back(uri_encode(key, false), uri_encode(value, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string canonical_request(const signable_request& r, const std::vector<std::string>& signed_headers) {
  std::map<std::string, std::string> values;
  for (const auto& [k, v] : r.headers) {
    auto name = ascii_lower(k);
    auto& slot = values[name];
    if (!slot.empty()) slot += ',';
    slot += canonical_value(v);
  }
  std::string out = r.method + "\n" + canonical_uri(r.path) + "\n" + canonical_query(r.query, true) + "\n";
  for (const auto& h : signed_headers) out += h + ":" + values[h] + "\n";
  out += "\n";
  for (std::size_t i = 0; i < signed_headers.size(); ++i) {
    if (i) out += ';';
    out += signed_headers[i];
  }
  out += "\n" + r.payload_hash;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" + sha256_hex(canonical);
}

std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  auto k_date = hmac_raw("AWS4" + std::string(secret), date);
  auto k_region = hmac_raw(k_date, region);
  auto k_service = hmac_raw(k_region, service);
  return hmac_raw(k_service, "aws4_request");
}

result<authorization_header> parse_authorization_header(std::string_view value) {
  constexpr std::string_view algo = "AWS4-HMAC-SHA256";
  if (!value.starts_with(algo)) return incomplete("Unsupported authorization type");
  value.remove_prefix(algo.size());
  authorization_header h;
  std::string credential;
  std::string signed_headers;
  bool have_sig = false;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto part = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    auto k = part.substr(0, eq);
    auto v = part.substr(eq + 1);
    if (k == "Credential") credential = std::string(v);
    if (k == "SignedHeaders") signed_headers = std::string(v);
    if (k == "Signature") {
      h.signature = std::string(v);
      have_sig = true;
    }
  }
  if (credential.empty() || signed_headers.empty() || !have_sig) {
    return incomplete("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.");
  }
  // AKID/date/region/service/aws4_request
  std::vector<std::string> scope;
  std::size_t start = 0;
  for (;;) {
    auto slash = credential.find('/', start);
    scope.push_back(credential.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (scope.size() != 5 || scope[4] != "aws4_request" || scope[0].empty()) {
    return incomplete("Credential should be scoped to a valid region, not the given credential scope.");
  }
  h.access_key_id = scope[0];
  h.date = scope[1];
  h.region = scope[2];
  h.service = scope[3];
  start = 0;
  for (;;) {
    auto semi = signed_headers.find(';', start);
    h.signed_headers.push_back(
        ascii_lower(signed_headers.substr(start, semi == std::string::npos ? std::string::npos : semi - start)));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  return h;
}

result<std::int64_t> parse_amz_date(std::string_view t) {
  // 20150830T123600Z
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z') return incomplete("invalid X-Amz-Date");
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = -1;
    auto [p, ec] = std::from_chars(t.data() + pos, t.data() + pos + len, v);
    return ec == std::errc() && p == t.data() + pos + len ? v : -1;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60) {
    return incomplete("invalid X-Amz-Date");
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string format_amz_date(std::int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

result<identity> sigv4_verifier::verify(const signable_request& r, std::int64_t now) const {
  auto header = [&](std::string_view name) -> std::string {
    for (const auto& [k, v] : r.headers) {
      if (ascii_lower(k) == name) return v;
    }
    return {};
  };
  auto authz = header("authorization");
  if (!authz.empty()) {
    auto parsed = parse_authorization_header(authz);
    if (!parsed) return parsed.take_error();
    auto date = header("x-amz-date");
    if (date.empty()) date = header("date");
    if (date.empty())
      return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    auto content_sha = header("x-amz-content-sha256");
    std::string payload = content_sha.empty() ? r.payload_hash : content_sha;
    if (!content_sha.empty() && content_sha != "UNSIGNED-PAYLOAD" && content_sha != r.payload_hash) {
      return make_error(errc::invalid_signature,
                        "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    return verify_parts(r, *parsed, date, payload, now, false, 0);
  }
  // Presigned query form.
  http::request q;
  q.query = r.query;
  auto algorithm = q.query_param("X-Amz-Algorithm");
  if (!algorithm) return make_error(errc::missing_authentication, "Missing Authentication Token");
  if (*algorithm != "AWS4-HMAC-SHA256") return incomplete("Unsupported algorithm in X-Amz-Algorithm");
  auto credential = q.query_param("X-Amz-Credential").value_or("");
  auto signed_headers = q.query_param("X-Amz-SignedHeaders").value_or("");
  auto signature = q.query_param("X-Amz-Signature").value_or("");
  auto date = q.query_param("X-Amz-Date").value_or("");
  auto expires_text = q.query_param("X-Amz-Expires").value_or("");
  auto parsed = parse_authorization_header("AWS4-HMAC-SHA256 Credential=" + credential +
                                           ", SignedHeaders=" + signed_headers + ", Signature=" + signature);
  if (!parsed) return parsed.take_error();
  std::int64_t expires = 0;
  auto [p, ec] = std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(), expires);
  if (expires_text.empty() || ec != std::errc() || p != expires_text.data() + expires_text.size() || expires < 1 ||
      expires > 604800) {
    return incomplete("X-Amz-Expires must be between 1 and 604800 seconds");
  }
  auto content_sha = q.query_param("X-Amz-Content-Sha256");
  return verify_parts(r, *parsed, date, content_sha ? *content_sha : std::string("UNSIGNED-PAYLOAD"), now, true,
                      expires);
}

result<identity> sigv4_verifier::verify_parts(const signable_request& r, const authorization_header& auth,
                                              std::string_view amz_date, std::string_view payload_hash,
                                              std::int64_t now, bool presigned, std::int64_t expires) const {
  auto when = parse_amz_date(amz_date);
  if (!when) return when.take_error();
  auto cred = credentials_.find(auth.access_key_id);
  if (!cred) {
    return make_error(errc::unrecognized_client, "The security token included in the request is invalid.");
  }
  if (auth.service != service_) {
    return make_error(errc::invalid_signature, "Credential should be scoped to correct service: '" + service_ + "'. ");
  }
  if (!region_.empty() && auth.region != region_) {
    return make_error(errc::invalid_signature,
                      "Credential should be scoped to a valid region, not '" + auth.region + "'. ");
  }
  if (amz_date.substr(0, 8) != auth.date) {
    return make_error(errc::invalid_signature,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
                          auth.date + "' != '" + std::string(amz_date.substr(0, 8)) + "', from '" +
                          std::string(amz_date) + "'.");
  }
  if (presigned) {
    if (now > *when + expires) {
      return make_error(errc::invalid_signature, "Signature expired: " + std::string(amz_date) +
                                                     " is now earlier than " + format_amz_date(now - expires) + " (" +
                                                     format_amz_date(now) + " - " + std::to_string(expires) + " sec.)");
    }
  } else if (*when < now - max_skew_) {
    return make_error(errc::invalid_signature, "Signature expired: " + std::string(amz_date) + " is now earlier than " +
                                                   format_amz_date(now - max_skew_) + " (" + format_amz_date(now) +
                                                   " - 15 min.)");
  } else if (*when > now + max_skew_) {
    return make_error(errc::invalid_signature, "Signature not yet current: " + std::string(amz_date) +
                                                   " is still later than " + format_amz_date(now + max_skew_) + " (" +
                                                   format_amz_date(now) + " + 15 min.)");
  }
  signable_request copy = r;
  copy.payload_hash = std::string(payload_hash);
  auto canonical = canonical_request(copy, auth.signed_headers);
  auto scope = auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request";
  auto sts = string_to_sign(amz_date, scope, canonical);
  auto key = signing_key(cred->secret_access_key, auth.date, auth.region, auth.service);
  auto expected = hmac_sha256_hex(key, sts);
  if (expected.size() != auth.signature.size() ||
      CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) != 0) {
    return make_error(errc::invalid_signature,
                      "The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.");
  }
  bool host_signed =
      std::find(auth.signed_headers.begin(), auth.signed_headers.end(), "host") != auth.signed_headers.end();
  if (!host_signed)
    return make_error(errc::invalid_signature, "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  return std::move(cred->who);
}

signable_request signable_post(const http::request& req) {
  return signable_request{"POST", req.path, req.query, req.headers.items(), sha256_hex(req.body)};
}

}  // namespace berth::auth
