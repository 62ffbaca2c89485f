// Reading request bodies (private header): a Content-Length body straight into the exchange's
// receive buffer, a chunked body through Beast's parser, a buffered body with a limit, and the
// draining of a body nobody wanted.
#pragma once

#include <optional>
#include <vector>

#include "beast_glue.hpp"

namespace berth::http {

inline constexpr std::uint64_t max_drain_bytes = 64 * 1024 * 1024;

// Streamed bodies are timed here, not by the stream: a stalled read is cancelled rather than the
// socket closed, so the exchange ends first (an upload records what it received) and only then does
// the client see the connection close.
class read_deadline {
 public:
  explicit read_deadline(beast::tcp_stream& layer) : layer_(layer), timer_(layer.get_executor()) {
    layer_.expires_never();
  }
  ~read_deadline() { timer_.cancel(); }
  read_deadline(const read_deadline&) = delete;
  read_deadline& operator=(const read_deadline&) = delete;

  void arm(std::chrono::seconds idle) {
    ++generation_;
    timer_.expires_after(idle);
    // The handler runs on the connection's strand, as the reads do; a stale one does nothing.
    timer_.async_wait([this, g = generation_](beast::error_code ec) {
      if (!ec && g == generation_) layer_.cancel();
    });
  }
  void disarm() {
    ++generation_;
    timer_.cancel();
  }

 private:
  beast::tcp_stream& layer_;
  net::steady_timer timer_;
  std::uint64_t generation_ = 0;
};

struct body_result {
  std::optional<response> stop;  // the exchange's answer when it stopped early
  bool client_gone = false;      // the client went away or stalled: drop the exchange
  bool complete = true;          // the whole body was read: the connection may serve another request
  std::uint64_t bytes = 0;       // body bytes read
};

// Reads and discards a body the handler did not want, so the connection can be reused.
// false: the body is too large or broken; close instead.
template <class Stream>
net::awaitable<bool> drain_body(Stream& stream, beast::flat_buffer& buf, bhttp::request_parser<bhttp::empty_body>& hp,
                                std::chrono::seconds idle_timeout) {
  if (hp.is_done()) co_return true;
  if (auto len = hp.content_length(); len && *len > max_drain_bytes) co_return false;
  bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp));
  bp.body_limit(max_drain_bytes);
  std::vector<char> scratch(64 * 1024);
  while (!bp.is_done()) {
    bp.get().body().data = scratch.data();
    bp.get().body().size = scratch.size();
    tcp_layer(stream).expires_after(idle_timeout);
    auto [ec, n] = co_await bhttp::async_read(stream, buf, bp, use_tuple);
    if (ec == bhttp::error::need_buffer) continue;
    if (ec) co_return false;
  }
  co_return true;
}

// A Content-Length body bypasses the parser: what the header read left in `buf`, then reads
// straight into the exchange's receive buffer (an upload's direct-I/O block), so each byte is
// copied once, by the kernel. Exchanges without a buffer of their own get `chunk`.
template <class Stream>
net::awaitable<body_result> read_sized_body(Stream& stream, beast::flat_buffer& buf, exchange& ex,
                                            std::uint64_t remaining, std::vector<char>& chunk,
                                            std::chrono::seconds idle_timeout) {
  body_result out;
  if (buf.size() > 0 && remaining > 0) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), remaining));
    out.stop = ex.consume(static_cast<const char*>(buf.data().data()), n);
    buf.consume(n);
    remaining -= n;
    out.bytes += n;
  }
  read_deadline deadline(tcp_layer(stream));
  while (!out.stop && remaining > 0) {
    auto space = ex.receive_buffer();
    if (space.empty()) {
      if (chunk.empty()) chunk.resize(stream_chunk_size);
      space = chunk;
    }
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(space.size(), remaining));
    deadline.arm(idle_timeout);
    auto [ec, n] = co_await stream.async_read_some(net::buffer(space.data(), want), use_tuple);
    deadline.disarm();
    if (ec) {
      out.client_gone = true;
      co_return out;
    }
    remaining -= n;
    out.bytes += n;
    out.stop = ex.consume(space.data(), n);
  }
  out.complete = remaining == 0;
  co_return out;
}

// A chunked body (or one of unknown length), piece by piece through Beast's parser.
template <class Stream>
net::awaitable<body_result> read_chunked_body(Stream& stream, beast::flat_buffer& buf,
                                              bhttp::request_parser<bhttp::empty_body>& hp, exchange& ex,
                                              std::vector<char>& chunk, std::chrono::seconds idle_timeout) {
  body_result out;
  bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp));
  bp.body_limit(boost::none);
  if (chunk.empty()) chunk.resize(stream_chunk_size);
  // Beast reads into the free space of `buf` (at least 512 bytes, at most 64 KiB a call): without
  // room, a large upload would arrive in hundreds of thousands of tiny reads.
  buf.reserve(stream_chunk_size);
  read_deadline deadline(tcp_layer(stream));
  while (!bp.is_done()) {
    bp.get().body().data = chunk.data();
    bp.get().body().size = chunk.size();
    deadline.arm(idle_timeout);
    auto [ec, n] = co_await bhttp::async_read(stream, buf, bp, use_tuple);
    deadline.disarm();
    if (ec && ec != bhttp::error::need_buffer) {
      if (!is_malformed(ec)) {
        out.client_gone = true;
        co_return out;
      }
      out.stop = ex.malformed_body();
      break;
    }
    std::size_t got = chunk.size() - bp.get().body().size;
    if (got > 0) {
      out.bytes += got;
      out.stop = ex.consume(chunk.data(), got);
      if (out.stop) break;
    }
  }
  out.complete = bp.is_done() && !bp.need_eof();
  co_return out;
}

struct buffered_body {
  beast::error_code ec;
  std::string body;
};

// The whole body, up to `limit` (bhttp::error::body_limit past it).
template <class Stream>
net::awaitable<buffered_body> read_buffered_body(Stream& stream, beast::flat_buffer& buf,
                                                 bhttp::request_parser<bhttp::empty_body>& hp, std::size_t limit,
                                                 std::chrono::seconds idle_timeout) {
  bhttp::request_parser<bhttp::string_body> sp(std::move(hp));
  sp.body_limit(limit);
  tcp_layer(stream).expires_after(idle_timeout);
  auto [ec, n] = co_await bhttp::async_read(stream, buf, sp, use_tuple);
  co_return buffered_body{ec, ec ? std::string() : std::move(sp.get().body())};
}

}  // namespace berth::http
