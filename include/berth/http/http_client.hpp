// A blocking HTTP/1.1 client for Berth's own outbound calls (the object store): keep-alive
// connections pooled per client, plain TCP or TLS (verified against the system's CAs), every
// operation bounded by a timeout. No Beast here: callers compile without it. Calls block; run them
// off the I/O threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/core/byte_source.hpp"
#include "berth/core/error.hpp"
#include "berth/http/message.hpp"

namespace berth::http {

struct client_request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // sent with a Content-Length (also when empty, for PUT and POST)
};

struct client_response {
  unsigned status = 0;
  header_list headers;
  std::string body;
};

// A response whose body is read in order; read() returns 0 at its end. Dropping it before the end
// closes the connection (it cannot be reused).
class client_body_reader {
 public:
  virtual ~client_body_reader() = default;
  virtual unsigned status() const = 0;
  virtual const header_list& headers() const = 0;
  virtual result<std::size_t> read(char* out, std::size_t size) = 0;
};

struct client_options {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{60000};  // for each read or write, not the whole exchange
  std::size_t max_idle_connections = 32;
};

class http_client {
 public:
  virtual ~http_client() = default;
  // The whole response; a body over `max_body` bytes is an error (errc::internal).
  virtual result<client_response> send(const client_request& r, std::size_t max_body = 16 * 1024 * 1024) = 0;
  // A request whose body of `length` bytes is read from `body` as it is sent (a blob pushed to
  // another registry is never held in memory); the whole response, as send.
  virtual result<client_response> send_streamed(const client_request& r, byte_reader& body, std::uint64_t length,
                                                std::size_t max_body = 1024 * 1024) = 0;
  // The status and headers; the body is read through the reader.
  virtual result<std::unique_ptr<client_body_reader>> open(const client_request& r) = 0;
  // Host[:port] as sent in the Host header.
  virtual const std::string& host_header() const = 0;
};

// `base_url`: http://host[:port] or https://host[:port] (no path). Connecting fails with
// errc::unavailable (the peer is down or unreachable), as do broken connections and timeouts.
result<std::shared_ptr<http_client>> make_http_client(const std::string& base_url, client_options options = {});

}  // namespace berth::http
