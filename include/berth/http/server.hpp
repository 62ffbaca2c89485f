// The HTTP/1.1 transport: accepts connections, reads requests (streaming large bodies), hands them
// to a request_handler and writes responses (sendfile for file payloads, streams read off the I/O
// threads). Knows nothing of registries. The parts, each in its own file under src/http/:
// listener (accept, TLS handshake, connection limits), session (one connection's requests),
// body_reader (request bodies), response_writer (responses, files, streams).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "berth/http/message.hpp"

namespace berth::http {

struct server_options {
  std::string host = "0.0.0.0";
  std::uint16_t port = 5000;
  unsigned io_threads = 0;      // 0: one per core
  unsigned worker_threads = 4;  // blocking work: fsync, database writes
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_connections = 1024;  // beyond: the handler's too_many_connections answer, then close
  std::chrono::seconds header_timeout{60};
  std::chrono::seconds body_idle_timeout{300};
  std::chrono::seconds shutdown_grace{5};
  std::string tls_cert;                  // PEM certificate chain; with tls_key, the listener speaks TLS 1.2+
  std::string tls_key;                   // PEM private key; both are re-read on SIGHUP
  request_observer* observer = nullptr;  // told about every request and refusal (may be null)
  std::string name = "server";           // in its log lines (a process may run two)
};

struct server_state;  // src/http/server_state.hpp

class server {
 public:
  server(server_options options, request_handler& handler);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listener; returns an error message (empty on success). port 0 picks a free port.
  std::string listen();
  std::uint16_t bound_port() const;
  std::string bound_address() const;
  bool tls_enabled() const;

  // Requests started since the server began, and requests in progress (to tell a busy server from
  // an idle one).
  std::uint64_t requests_started() const;
  std::size_t requests_in_progress() const;
  // True once shutdown began: long periodic tasks stop between items instead of holding it up.
  bool stopping() const;

  // Runs `task` on a worker thread every `interval`, first right away.
  void every(std::chrono::seconds interval, std::function<void()> task);

  // Serves until SIGINT/SIGTERM (or stop()), then drains in-flight requests for the grace period.
  void run();
  void stop();

 private:
  void wait_for_reload();
  std::unique_ptr<server_state> impl_;
};

}  // namespace berth::http
