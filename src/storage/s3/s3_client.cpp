#include "s3_client.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <ctime>

#include "berth/auth/sigv4.hpp"
#include "s3_xml.hpp"

namespace berth::storage::s3 {
namespace {

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string encode_path(std::string_view path) { return auth::uri_encode(path, true); }

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// S3 answers some failures of CopyObject, UploadPartCopy and CompleteMultipartUpload with a 200
// whose body is an <Error>.
bool is_error_document(const http::client_response& r) { return r.body.find("<Error>") != std::string::npos; }

}  // namespace

std::string encode_query_value(std::string_view v) { return auth::uri_encode(v, false); }

std::int64_t parse_iso8601(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') return 0;
  auto num = [&](std::size_t at, std::size_t len) {
    int v = 0;
    auto [p, ec] = std::from_chars(t.data() + at, t.data() + at + len, v);
    return (ec == std::errc() && p == t.data() + at + len) ? v : -1;
  };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

error s3_error(std::string_view operation, const http::client_response& r) {
  auto code = xml_text(r.body, "Code").value_or("");
  auto message = xml_text(r.body, "Message").value_or("");
  std::string text = "object store: " + std::string(operation) + " answered " + std::to_string(r.status);
  if (!code.empty()) text += " " + code;
  if (!message.empty()) text += ": " + message;
  if (r.status >= 500 || code == "SlowDown" || code == "RequestTimeout") return make_error(errc::unavailable, text);
  if (code == "QuotaExceeded" || code == "EntityTooLarge" || r.status == 507)
    return make_error(errc::storage_full, text);
  return make_error(errc::internal, text);
}

s3_client::s3_client(s3_options options, std::shared_ptr<http::http_client> http, std::string base_url)
    : options_(std::move(options)),
      http_(std::move(http)),
      base_url_(std::move(base_url)),
      signer_({options_.access_key_id, options_.secret_access_key}, options_.region, "s3") {}

result<std::unique_ptr<s3_client>> s3_client::connect(const s3_options& options) {
  std::string base = options.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!options.path_style) {
    auto scheme_end = base.find("://");
    if (scheme_end == std::string::npos)
      return make_error(errc::invalid_parameter, "storage.s3.endpoint needs a scheme");
    base = base.substr(0, scheme_end + 3) + options.bucket + "." + base.substr(scheme_end + 3);
  }
  http::client_options co;
  co.max_idle_connections = options.max_idle_connections;
  auto http = http::make_http_client(base, co);
  if (!http) return http.take_error();
  return std::unique_ptr<s3_client>(new s3_client(options, std::move(http).value(), base));
}

std::string s3_client::path_of(std::string_view key) const {
  std::string path = options_.path_style ? "/" + options_.bucket : "";
  if (!key.empty() || !options_.path_style) path += "/" + std::string(key);
  return path;
}

http::client_request s3_client::make_request(std::string method, std::string_view key, std::string query,
                                             std::string_view body, bool sign_body,
                                             std::vector<std::pair<std::string, std::string>> headers) const {
  auto path = path_of(key);
  headers.emplace_back("host", http_->host_header());
  signer_.sign(method, path, query, headers, sign_body ? auth::sha256_hex(body) : "UNSIGNED-PAYLOAD", now_seconds());
  http::client_request r;
  r.method = std::move(method);
  r.target = encode_path(path) + (query.empty() ? "" : "?" + query);
  r.headers = std::move(headers);
  r.body = body;
  return r;
}

result<http::client_response> s3_client::send(http::client_request r, std::size_t max_body) {
  return http_->send(r, max_body);
}

result<void> s3_client::ensure_bucket() {
  auto head = send(make_request("HEAD", "", "", {}, true));
  if (!head) return head.take_error();
  if (head->status == 200) return {};
  if (head->status == 403) {
    return make_error(errc::invalid_parameter, "object store refused the credentials for bucket " + options_.bucket);
  }
  if (head->status != 404) return s3_error("HeadBucket", *head);
  std::string body;
  if (options_.region != "us-east-1") {
    body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
           xml_escape(options_.region) + "</LocationConstraint></CreateBucketConfiguration>";
  }
  auto made = send(make_request("PUT", "", "", body, true));
  if (!made) return made.take_error();
  if (made->status == 200) return {};
  // Another server of the fleet made it first.
  if (xml_text(made->body, "Code").value_or("") == "BucketAlreadyOwnedByYou") return {};
  return s3_error("CreateBucket", *made);
}

result<void> s3_client::put_object(const std::string& key, std::string_view body) {
  auto r = send(make_request("PUT", key, "", body, false));
  if (!r) return r.take_error();
  if (r->status != 200) return s3_error("PutObject", *r);
  return {};
}

result<std::optional<std::uint64_t>> s3_client::head_object(const std::string& key) {
  auto r = send(make_request("HEAD", key, "", {}, true));
  if (!r) return r.take_error();
  if (r->status == 404) return std::optional<std::uint64_t>();
  if (r->status != 200) return s3_error("HeadObject", *r);
  auto length = r->headers.find("Content-Length");
  auto size = length ? parse_u64(*length) : std::nullopt;
  if (!size) return make_error(errc::internal, "object store: HeadObject without a Content-Length");
  return std::optional<std::uint64_t>(*size);
}

result<std::optional<std::string>> s3_client::get_object(const std::string& key, std::size_t max) {
  auto r = send(make_request("GET", key, "", {}, true), max);
  if (!r) return r.take_error();
  if (r->status == 404) return std::optional<std::string>();
  if (r->status != 200) return s3_error("GetObject", *r);
  return std::optional<std::string>(std::move(r->body));
}

namespace {

class range_reader final : public byte_reader {
 public:
  range_reader(std::shared_ptr<http::http_client> http, http::client_request request, std::uint64_t length)
      : http_(std::move(http)), request_(std::move(request)), left_(length) {}
  result<std::size_t> read(char* out, std::size_t size) override {
    if (left_ == 0) return std::size_t{0};
    if (!body_) {
      auto b = http_->open(request_);
      if (!b) return b.take_error();
      if ((*b)->status() != 206 && (*b)->status() != 200) {
        return make_error((*b)->status() >= 500 ? errc::unavailable : errc::internal,
                          "object store: GetObject answered " + std::to_string((*b)->status()));
      }
      body_ = std::move(b).value();
    }
    // Fill the caller's buffer: each read is a hop to a worker thread and a write to the client,
    // so returning every socket read on its own (a few KiB) costs far more than the copy.
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size, left_));
    std::size_t got = 0;
    while (got < want) {
      auto n = body_->read(out + got, want - got);
      if (!n) return n;
      if (*n == 0) return make_error(errc::unavailable, "object store: the object ended early");
      got += *n;
    }
    left_ -= got;
    return got;
  }

 private:
  std::shared_ptr<http::http_client> http_;
  http::client_request request_;
  std::unique_ptr<http::client_body_reader> body_;
  std::uint64_t left_;
};

}  // namespace

std::unique_ptr<byte_reader> s3_client::read_range(const std::string& key, std::uint64_t offset, std::uint64_t length) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (length > 0) {
    headers.emplace_back("range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
  }
  // Signed now; the GET goes out on the first read, well inside the signature's 15 minutes.
  return std::make_unique<range_reader>(http_, make_request("GET", key, "", {}, true, std::move(headers)), length);
}

result<void> s3_client::delete_object(const std::string& key) {
  auto r = send(make_request("DELETE", key, "", {}, true));
  if (!r) return r.take_error();
  if (r->status != 204 && r->status != 200 && r->status != 404) return s3_error("DeleteObject", *r);
  return {};
}

result<void> s3_client::delete_objects(const std::vector<std::string>& keys) {
  for (std::size_t at = 0; at < keys.size(); at += 1000) {
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (std::size_t i = at; i < std::min(keys.size(), at + 1000); ++i) {
      body += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    }
    body += "</Delete>";
    // S3 requires Content-MD5 on DeleteObjects.
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(body.data(), body.size(), md, &len, EVP_md5(), nullptr);
    std::string md5(4 * ((len + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(md5.data()), md, static_cast<int>(len));
    auto r = send(make_request("POST", "", "delete=", body, true, {{"content-md5", md5}}));
    if (!r) return r.take_error();
    if (r->status != 200 || !xml_elements(r->body, "Error").empty()) return s3_error("DeleteObjects", *r);
  }
  return {};
}

result<void> s3_client::copy_object(const std::string& from, const std::string& to, std::uint64_t size) {
  const std::string source = encode_path("/" + options_.bucket + "/" + from);
  if (size <= options_.max_single_copy) {
    auto r = send(make_request("PUT", to, "", {}, true, {{"x-amz-copy-source", source}}));
    if (!r) return r.take_error();
    if (r->status != 200 || is_error_document(*r)) return s3_error("CopyObject", *r);
    return {};
  }
  auto id = create_multipart(to);
  if (!id) return id.take_error();
  std::vector<part> parts;
  const std::uint64_t step = std::max<std::uint64_t>(options_.part_size, (size + 9999) / 10000);
  for (std::uint64_t at = 0, n = 1; at < size; at += step, ++n) {
    const auto last = std::min(size, at + step) - 1;
    auto r = send(
        make_request("PUT", to, "partNumber=" + std::to_string(n) + "&uploadId=" + encode_query_value(*id), {}, true,
                     {{"x-amz-copy-source", source},
                      {"x-amz-copy-source-range", "bytes=" + std::to_string(at) + "-" + std::to_string(last)}}));
    if (!r) {
      (void)abort_multipart(to, *id);
      return r.take_error();
    }
    if (r->status != 200 || is_error_document(*r)) {
      (void)abort_multipart(to, *id);
      return s3_error("UploadPartCopy", *r);
    }
    parts.push_back({static_cast<int>(n), last - at + 1, xml_text(r->body, "ETag").value_or("")});
  }
  return complete_multipart(to, *id, parts);
}

result<listing> s3_client::list(const std::string& prefix, bool delimited) {
  listing out;
  std::string token;
  for (;;) {
    std::string query = "list-type=2&prefix=" + encode_query_value(prefix);
    if (delimited) query += "&delimiter=%2F";
    if (!token.empty()) query += "&continuation-token=" + encode_query_value(token);
    // Canonical order: the signer sorts, and the target carries the same parameters.
    auto r = send(make_request("GET", "", query, {}, true));
    if (!r) return r.take_error();
    if (r->status != 200) return s3_error("ListObjectsV2", *r);
    for (auto item : xml_elements(r->body, "Contents")) {
      listed_object o;
      o.key = xml_text(item, "Key").value_or("");
      o.size = parse_u64(xml_text(item, "Size").value_or("")).value_or(0);
      o.modified = parse_iso8601(xml_text(item, "LastModified").value_or(""));
      if (!o.key.empty()) out.objects.push_back(std::move(o));
    }
    for (auto item : xml_elements(r->body, "CommonPrefixes")) {
      if (auto p = xml_text(item, "Prefix")) out.prefixes.push_back(*p);
    }
    if (xml_text(r->body, "IsTruncated").value_or("false") != "true") return out;
    token = xml_text(r->body, "NextContinuationToken").value_or("");
    if (token.empty())
      return make_error(errc::internal, "object store: a truncated listing without a continuation token");
  }
}

result<std::string> s3_client::create_multipart(const std::string& key) {
  auto r = send(make_request("POST", key, "uploads=", {}, true));
  if (!r) return r.take_error();
  if (r->status != 200) return s3_error("CreateMultipartUpload", *r);
  auto id = xml_text(r->body, "UploadId");
  if (!id || id->empty()) return make_error(errc::internal, "object store: CreateMultipartUpload without an UploadId");
  return *id;
}

result<std::string> s3_client::upload_part(const std::string& key, const std::string& upload_id, int number,
                                           std::string_view body) {
  auto r = send(make_request(
      "PUT", key, "partNumber=" + std::to_string(number) + "&uploadId=" + encode_query_value(upload_id), body, false));
  if (!r) return r.take_error();
  if (r->status != 200) return s3_error("UploadPart", *r);
  auto etag = r->headers.find("ETag");
  if (!etag) return make_error(errc::internal, "object store: UploadPart without an ETag");
  return std::string(*etag);
}

result<std::optional<std::vector<part>>> s3_client::list_parts(const std::string& key, const std::string& upload_id) {
  std::vector<part> out;
  std::string marker;
  for (;;) {
    std::string query = "uploadId=" + encode_query_value(upload_id);
    if (!marker.empty()) query = "part-number-marker=" + marker + "&" + query;
    auto r = send(make_request("GET", key, query, {}, true));
    if (!r) return r.take_error();
    if (r->status == 404) return std::optional<std::vector<part>>();
    if (r->status != 200) return s3_error("ListParts", *r);
    for (auto item : xml_elements(r->body, "Part")) {
      part p;
      p.number = static_cast<int>(parse_u64(xml_text(item, "PartNumber").value_or("")).value_or(0));
      p.size = parse_u64(xml_text(item, "Size").value_or("")).value_or(0);
      p.etag = xml_text(item, "ETag").value_or("");
      if (p.number > 0) out.push_back(std::move(p));
    }
    if (xml_text(r->body, "IsTruncated").value_or("false") != "true") break;
    marker = xml_text(r->body, "NextPartNumberMarker").value_or("");
    if (marker.empty()) return make_error(errc::internal, "object store: a truncated ListParts without a marker");
  }
  return std::optional<std::vector<part>>(std::move(out));
}

result<void> s3_client::complete_multipart(const std::string& key, const std::string& upload_id,
                                           const std::vector<part>& parts) {
  std::string body = "<CompleteMultipartUpload>";
  for (const auto& p : parts) {
    body +=
        "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + xml_escape(p.etag) + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  auto r = send(make_request("POST", key, "uploadId=" + encode_query_value(upload_id), body, true));
  if (!r) return r.take_error();
  // The ETag in the answer is not used: Ceph RGW 16.2 leaves it empty.
  if (r->status != 200 || is_error_document(*r)) return s3_error("CompleteMultipartUpload", *r);
  return {};
}

result<void> s3_client::abort_multipart(const std::string& key, const std::string& upload_id) {
  auto r = send(make_request("DELETE", key, "uploadId=" + encode_query_value(upload_id), {}, true));
  if (!r) return r.take_error();
  if (r->status != 204 && r->status != 200 && r->status != 404) return s3_error("AbortMultipartUpload", *r);
  return {};
}

result<std::vector<std::pair<std::string, std::string>>> s3_client::list_multipart(const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string key_marker, id_marker;
  for (;;) {
    std::string query = "prefix=" + encode_query_value(prefix) + "&uploads=";
    if (!key_marker.empty()) {
      query = "key-marker=" + encode_query_value(key_marker) + "&" + query +
              "&upload-id-marker=" + encode_query_value(id_marker);
    }
    auto r = send(make_request("GET", "", query, {}, true));
    if (!r) return r.take_error();
    if (r->status != 200) return s3_error("ListMultipartUploads", *r);
    for (auto item : xml_elements(r->body, "Upload")) {
      out.emplace_back(xml_text(item, "Key").value_or(""), xml_text(item, "UploadId").value_or(""));
    }
    if (xml_text(r->body, "IsTruncated").value_or("false") != "true") return out;
    key_marker = xml_text(r->body, "NextKeyMarker").value_or("");
    id_marker = xml_text(r->body, "NextUploadIdMarker").value_or("");
    if (key_marker.empty()) return out;
  }
}

std::string s3_client::presigned_get(const std::string& key) const {
  auto path = path_of(key);
  return base_url_ + encode_path(path) + "?" +
         signer_.presign_query("GET", path, "", http_->host_header(), options_.presign_expiry_seconds, now_seconds());
}

}  // namespace berth::storage::s3
