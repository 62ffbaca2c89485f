// Accepts connections: plain ones go straight to a session; TLS ones through a bounded handshake
// first. Over-limit connections get the handler's refusal. The one translation unit that
// instantiates the connection templates (session.hpp).
#include <spdlog/spdlog.h>

#include <array>
#include <string_view>

#include "server_state.hpp"
#include "session.hpp"

namespace berth::http {
namespace {

void report(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection failed: {}", ex.what());
  }
}

// The context stays alive (captured) for as long as its connection, even across a reload.
net::awaitable<void> tls_session(server_state& s, tls_stream stream, std::shared_ptr<ssl::context> ctx) {
  (void)ctx;
  boost::system::error_code ec;
  {
    counted_scope done(s.handshakes, counted_scope::already_counted);
    tcp_layer(stream).expires_after(s.options.header_timeout);
    // The first bytes decide: a TLS record starts with 0x16; a letter is plain HTTP sent to the TLS
    // port, which gets Go's one-line answer instead of a silent close.
    std::array<char, 512> first{};
    std::size_t n = 0;
    std::tie(ec, n) = co_await tcp_layer(stream).async_read_some(net::buffer(first), use_tuple);
    if (ec || n == 0) co_return;
    if (first[0] >= 'A' && first[0] <= 'Z') {
      static constexpr std::string_view hint =
          "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
          "Client sent an HTTP request to an HTTPS server.\n";
      co_await net::async_write(tcp_layer(stream), net::buffer(hint), use_tuple);
      tcp_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    std::tie(ec, n) =
        co_await stream.async_handshake(ssl::stream_base::server, net::buffer(first.data(), n), use_tuple);
  }
  if (ec) co_return;
  if (s.active_connections >= s.options.max_connections) {
    co_await refuse_connection(s, std::move(stream));
  } else {
    co_await serve_connection(s, std::move(stream));
  }
}

}  // namespace

net::awaitable<void> server_state::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    auto exec = socket.get_executor();
    auto ctx = current_tls();
    if (!ctx) {
      if (active_connections >= options.max_connections) {
        net::co_spawn(exec, refuse_connection(*this, plain_stream(std::move(socket))), report);
      } else {
        net::co_spawn(exec, serve_connection(*this, plain_stream(std::move(socket))), report);
      }
      continue;
    }
    // Handshakes in progress are bounded too: a client that opens connections and never finishes
    // the handshake would otherwise hold sockets and memory without counting as a connection.
    if (handshakes >= options.max_connections) {
      refused(refusal::too_many_connections, peer_of(socket));
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++handshakes;  // here, not in the session: a burst of accepts must see each other
    net::co_spawn(exec, tls_session(*this, tls_stream(plain_stream(std::move(socket)), *ctx), ctx), report);
  }
}

}  // namespace berth::http
