// Writing responses (private header): headers and small bodies through Beast; file payloads with
// sendfile(2) on plain TCP (chunked pread under TLS); stream payloads read on the worker pool
// (a stream's reads may block) and written as they come; closing a connection gracefully.
#pragma once

#include <sys/sendfile.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "beast_glue.hpp"

namespace berth::http {

using namespace net::experimental::awaitable_operators;

// TLS: the bytes must pass through the TLS layer, so they are read and written in chunks.
inline net::awaitable<bool> send_file(tls_stream& stream, const file_payload& f, std::chrono::seconds idle_timeout) {
  std::vector<char> chunk(256 * 1024);
  std::uint64_t offset = f.offset;
  std::uint64_t remaining = f.length;
  while (remaining > 0) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, chunk.size()));
    ssize_t n = ::pread(f.fd, chunk.data(), want, static_cast<off_t>(offset));
    if (n <= 0) co_return false;
    tcp_layer(stream).expires_after(idle_timeout);
    auto [ec, written] =
        co_await net::async_write(stream, net::buffer(chunk.data(), static_cast<std::size_t>(n)), use_tuple);
    if (ec) co_return false;
    offset += static_cast<std::uint64_t>(n);
    remaining -= static_cast<std::uint64_t>(n);
  }
  co_return true;
}

// Plain TCP: zero-copy from the page cache to the socket.
inline net::awaitable<bool> send_file(plain_stream& stream, const file_payload& f, std::chrono::seconds idle_timeout) {
  auto& sock = stream.socket();
  sock.native_non_blocking(true);
  off_t off = static_cast<off_t>(f.offset);
  std::uint64_t remaining = f.length;
  net::steady_timer timer(stream.get_executor());
  while (remaining > 0) {
    ssize_t n = ::sendfile(sock.native_handle(), f.fd, &off,
                           static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 1u << 30)));
    if (n > 0) {
      remaining -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      timer.expires_after(idle_timeout);
      auto r = co_await (sock.async_wait(tcp::socket::wait_write, use_tuple) || timer.async_wait(use_tuple));
      if (r.index() == 1) co_return false;  // timed out
      if (std::get<0>(std::get<0>(r))) co_return false;
      continue;
    }
    co_return false;  // error, or the file ended early
  }
  co_return true;
}

// A stream: each read runs on the worker pool, each write on the connection. Two buffers: the next
// chunk is read while the current one is written, so a stream from the network (an object store)
// costs the slower of the two, not their sum.
template <class Stream>
net::awaitable<bool> send_stream(Stream& stream, const stream_payload& s, net::thread_pool& workers,
                                 std::chrono::seconds idle_timeout) {
  constexpr std::size_t chunk_size = 256 * 1024;
  std::array<std::vector<char>, 2> chunks{std::vector<char>(chunk_size), std::vector<char>(chunk_size)};
  std::uint64_t unread = s.length;
  // -1: the stream failed; the response is cut short and the connection closed. 0: it ended early.
  auto read_next = [&](std::vector<char>& into) -> net::awaitable<std::int64_t> {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(unread, into.size()));
    return net::co_spawn(
        workers,
        [&s, &into, want]() -> net::awaitable<std::int64_t> {
          auto n = s.reader->read(into.data(), want);
          co_return n ? static_cast<std::int64_t>(*n) : -1;
        },
        net::use_awaitable);
  };
  std::size_t current = 0;
  std::int64_t got = co_await read_next(chunks[current]);
  while (got > 0) {
    unread -= static_cast<std::uint64_t>(got);
    const auto out = net::buffer(chunks[current].data(), static_cast<std::size_t>(got));
    tcp_layer(stream).expires_after(idle_timeout);
    if (unread == 0) {
      auto [ec, written] = co_await net::async_write(stream, out, use_tuple);
      if (!ec && s.read_past_end) co_await read_next(chunks[1 - current]);
      co_return !ec;
    }
    // The operator flattens the write's (error, size) and the read's count into one tuple.
    auto [ec, written, next] = co_await (net::async_write(stream, out, use_tuple) && read_next(chunks[1 - current]));
    if (ec) co_return false;
    current = 1 - current;
    got = next;
  }
  co_return false;
}

// The length a response announces for its body.
inline std::uint64_t body_length(const response& res) {
  if (res.file) return res.file->length;
  if (res.stream) return res.stream->length;
  return res.head_length.value_or(res.body.size());
}

template <class Stream>
net::awaitable<bool> write_response(Stream& stream, verb method, response& res, bool keep_alive,
                                    net::thread_pool& workers, std::chrono::seconds idle_timeout) {
  tcp_layer(stream).expires_after(idle_timeout);
  const bool head = method == verb::head;
  if (head || res.file || res.stream) {
    bhttp::response<bhttp::empty_body> r{static_cast<bhttp::status>(res.status), 11};
    for (const auto& [k, v] : res.headers.items()) r.insert(k, v);
    if (res.status != 204 && res.status != 304) r.content_length(body_length(res));
    r.keep_alive(keep_alive);
    bhttp::response_serializer<bhttp::empty_body> sr{r};
    auto [ec, n] = co_await bhttp::async_write_header(stream, sr, use_tuple);
    if (ec) co_return false;
    if (head) co_return true;
    if (res.file && res.file->length > 0) co_return co_await send_file(stream, *res.file, idle_timeout);
    if (res.stream && res.stream->length > 0)
      co_return co_await send_stream(stream, *res.stream, workers, idle_timeout);
    co_return true;
  }
  bhttp::response<bhttp::string_body> r{static_cast<bhttp::status>(res.status), 11};
  for (const auto& [k, v] : res.headers.items()) r.insert(k, v);
  r.body() = std::move(res.body);
  r.keep_alive(keep_alive);
  r.prepare_payload();
  auto [ec, n] = co_await bhttp::async_write(stream, r, use_tuple);
  co_return !ec;
}

// Half-close, then read briefly so the peer gets the answer before a reset.
inline net::awaitable<void> linger_close(plain_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(2));
  char sink[4096];
  for (int i = 0; i < 16; ++i) {
    auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
    if (ec) break;
  }
}

inline net::awaitable<void> linger_close(tls_stream& stream) {
  tcp_layer(stream).expires_after(std::chrono::seconds(2));
  auto [ec] = co_await stream.async_shutdown(use_tuple);
  (void)ec;
  beast::error_code ignored;
  tcp_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace berth::http
