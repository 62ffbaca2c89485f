// What the transport's parts share (private header): the server's options, handler, I/O context,
// worker pool, listener, TLS context and counters.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "beast_glue.hpp"
#include "berth/http/server.hpp"

namespace berth::http {

// Counts one connection, request or handshake in progress for as long as it lives.
class counted_scope {
 public:
  static constexpr struct adopt_t {
  } already_counted{};
  explicit counted_scope(std::atomic<std::size_t>& n) : n_(n) { ++n_; }
  counted_scope(std::atomic<std::size_t>& n, adopt_t) : n_(n) {}  // the caller counted it
  ~counted_scope() { --n_; }
  counted_scope(const counted_scope&) = delete;
  counted_scope& operator=(const counted_scope&) = delete;

 private:
  std::atomic<std::size_t>& n_;
};

struct server_state {
  server_state(server_options o, request_handler& h)
      : options(std::move(o)), handler(h), workers(options.worker_threads) {}

  server_options options;
  request_handler& handler;
  net::io_context ioc;
  net::thread_pool workers;  // blocking work: finish() of blocking exchanges, stream reads, periodic tasks
  tcp::acceptor acceptor{ioc};
  net::signal_set signals{ioc, SIGINT, SIGTERM};
  net::signal_set reload_signal{ioc, SIGHUP};
  std::mutex tls_mutex;
  std::shared_ptr<ssl::context> tls;  // null: plain TCP

  std::atomic<std::size_t> active_requests{0};
  std::atomic<std::uint64_t> requests_started{0};
  std::atomic<std::size_t> active_connections{0};
  std::atomic<std::size_t> handshakes{0};  // TLS connections not yet past the handshake
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<net::steady_timer>> periodic;

  std::shared_ptr<ssl::context> current_tls() {
    std::lock_guard lock(tls_mutex);
    return tls;
  }
  void refused(refusal why, std::string_view peer) {
    if (options.observer) options.observer->on_refusal(why, peer);
  }

  // listener.cpp: accepts connections until the acceptor closes.
  net::awaitable<void> accept_loop();
};

}  // namespace berth::http
