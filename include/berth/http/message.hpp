// HTTP request/response values and the handler interface the transport calls. No Beast here:
// handlers compile quickly and are tested without sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/core/byte_source.hpp"

namespace berth::http {

enum class verb { get, head, post, put, patch, delete_, other };

// "GET", "HEAD", ... as logs and metrics write a method (a static string).
const char* verb_name(verb v);

class header_list {
 public:
  // Case-insensitive lookup of the first value.
  std::optional<std::string_view> find(std::string_view name) const;
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  void set(std::string_view name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// What the adapter that handled a request says about it, for the observer (metrics, audit, access
// logs): which API, which operation, on behalf of whom.
// `api` and `operation` name static strings (no allocation on the hot path).
struct request_notes {
  std::string_view api;        // "v2", "ecr", ...
  std::string_view operation;  // e.g. "manifest.get", "PutImage"
  std::string principal;       // the caller's ARN or name, once authenticated
  // For the audit log (cli/request_log.cpp): the access key that signed, the IAM action and
  // resource the request was decided on, and whether authorization denied it.
  std::string access_key_id;
  std::string action;
  std::string resource;
  bool denied = false;
  // The credentials were missing, malformed, unknown, expired or wrongly signed (metrics count it).
  bool unauthenticated = false;
  std::string request_id;  // the id the response carries, where the protocol has one (x-amzn-RequestId)
};

struct request {
  verb method = verb::get;
  std::string target;  // as received
  std::string path;    // target before '?', not decoded
  std::string query;   // target after '?', not decoded
  header_list headers;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  std::string body;  // buffered bodies only
  std::string peer;  // the client's address:port (set by the transport)
  bool tls = false;  // whether the connection is TLS
  // Filled in by the adapter (through a const request too) and handed to the observer.
  mutable request_notes notes;

  std::optional<std::string_view> header(std::string_view name) const { return headers.find(name); }
  bool has_body() const { return chunked || (content_length && *content_length > 0); }
  // Query parameters, percent-decoded ('+' is a space, as Go's url.Query decodes it).
  std::optional<std::string> query_param(std::string_view name) const;
  std::vector<std::string> query_params(std::string_view name) const;
  bool has_query_param(std::string_view name) const;
  // The client's address without the port (and without an IPv6 address's brackets).
  std::string peer_address() const;
};

// Bytes served straight from a file descriptor (sendfile); `owner` keeps the descriptor open.
using file_payload = file_region;
// Bytes read from a stream (run off the I/O threads: reads may block), `length` of them.
using stream_payload = stream_source;

struct response {
  unsigned status = 200;
  header_list headers;
  std::string body;
  std::optional<file_payload> file;
  std::optional<stream_payload> stream;
  // The Content-Length a HEAD response announces (it sends no body).
  std::optional<std::uint64_t> head_length;
};

enum class body_mode { none, buffered, stream };

// One request's handling, created by the router once the headers are in.
class exchange {
 public:
  virtual ~exchange() = default;
  virtual body_mode mode() const { return body_mode::none; }
  // buffered: the largest body accepted; a larger one gets too_large().
  virtual std::size_t body_limit() const { return 0; }
  virtual response too_large() {
    response r;
    r.status = 413;
    return r;
  }
  // The body could not be parsed as HTTP/1.1 (e.g. bad chunk sizes); the connection closes after.
  virtual response malformed_body() {
    response r;
    r.status = 400;
    r.body = "malformed request body\n";
    return r;
  }
  // stream: called before any body byte is read; a response rejects the request.
  virtual std::optional<response> start(const request&) { return std::nullopt; }
  // stream: each piece of the body; a response stops the upload and is sent as the answer.
  virtual std::optional<response> consume(const char*, std::size_t) { return std::nullopt; }
  // stream: where the next body bytes may be received directly, to reach consume() at that address
  // without a copy; empty: the transport reads into its own buffer.
  virtual std::span<char> receive_buffer() { return {}; }
  // After the whole body (buffered: in req.body).
  virtual response finish(request& req) = 0;
  // finish() blocks on disk or database writes: the transport runs it off the I/O threads.
  virtual bool blocking() const { return false; }
};

// Requests the transport answers itself, before or instead of routing them.
enum class refusal {
  too_many_connections,  // over the connection limit: answered at once, then closed
  header_too_large,      // request headers over the limit
  malformed_header,      // not HTTP/1.1
  handler_failed,        // the handler threw (a bug: logged)
};

class request_handler {
 public:
  virtual ~request_handler() = default;
  virtual std::unique_ptr<exchange> route(const request& head) = 0;
  // The wire answer for a refused request: the handler, not the transport, speaks the API.
  virtual response refuse(refusal why) = 0;
};

struct request_outcome {
  unsigned status = 0;
  std::uint64_t bytes_in = 0;   // request body bytes read
  std::uint64_t bytes_out = 0;  // response body bytes sent
  std::chrono::microseconds duration{0};
  bool completed = false;  // the whole response was sent
};

// Told about every request once it is over (the connection may have broken first), and about
// every refusal; later work hangs metrics, audit and access logs here. Called on I/O threads:
// keep it quick.
class request_observer {
 public:
  virtual ~request_observer() = default;
  virtual void on_request(const request& req, const request_outcome& outcome) = 0;
  virtual void on_refusal(refusal why, std::string_view peer) = 0;
};

std::string percent_decode(std::string_view s, bool plus_is_space);
std::string percent_encode_query_value(std::string_view s);

}  // namespace berth::http
