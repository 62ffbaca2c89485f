// The one translation unit that instantiates Beast. A map, top to bottom:
// - conversions between Beast and berth::http types, the TLS context;
// - server::impl: accept_loop → tls_session (handshake) → session, the per-connection loop that
//   reads a request's headers, routes it to an exchange and feeds it the body (none, buffered, or
//   streamed: read_sized_body for Content-Length bodies, Beast's parser for chunked ones), then
//   write_response / send_file (sendfile on plain TCP, chunked pread under TLS);
//   refuse/linger_close answer and close over-limit connections;
// - server's public methods: listen, every (periodic tasks), run/stop (graceful drain), SIGHUP reload.
#include "berth/http/server.hpp"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace berth::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using namespace net::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t stream_chunk_size = 128 * 1024;
constexpr std::uint64_t max_drain_bytes = 64 * 1024 * 1024;

verb to_verb(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return verb::get;
    case bhttp::verb::head: return verb::head;
    case bhttp::verb::post: return verb::post;
    case bhttp::verb::put: return verb::put;
    case bhttp::verb::patch: return verb::patch;
    case bhttp::verb::delete_: return verb::delete_;
    default: return verb::other;
  }
}

request to_request(const bhttp::request_parser<bhttp::empty_body>& p) {
  const auto& h = p.get();
  request r;
  r.method = to_verb(h.method());
  r.target = std::string(h.target());
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& f : h) r.headers.add(std::string(f.name_string()), std::string(f.value()));
  if (auto len = p.content_length()) r.content_length = *len;
  r.chunked = p.chunked();
  return r;
}

// A body the client sent that HTTP/1.1 cannot parse (bad chunk sizes, …) gets a 400; a client that
// went away or stalled gets nothing.
bool is_malformed(const beast::error_code& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_chunk).category()) return false;
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message && ec != bhttp::error::need_more &&
         ec != bhttp::error::need_buffer;
}

template <class Stream>
beast::tcp_stream& tcp_layer(Stream& s) {
  return beast::get_lowest_layer(s);
}

// TLS 1.2 and 1.3 only, forward-secret AEAD suites only.
std::shared_ptr<ssl::context> make_tls_context(const std::string& cert, const std::string& key, std::string& err) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx->native_handle(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (ec) {
    err = "cannot load TLS certificate '" + cert + "': " + ec.message();
    return nullptr;
  }
  ctx->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    err = "cannot load TLS key '" + key + "': " + ec.message();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    err = "the TLS key does not match the certificate";
    return nullptr;
  }
  return ctx;
}

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

response plain_error(unsigned status, std::string_view text) {
  response r;
  r.status = status;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.body = std::string(text) + "\n";
  return r;
}

}  // namespace

struct server::impl {
  server_options options;
  request_handler& handler;
  net::io_context ioc;
  net::thread_pool workers;
  tcp::acceptor acceptor{ioc};
  net::signal_set signals{ioc, SIGINT, SIGTERM};
  net::signal_set reload_signal{ioc, SIGHUP};
  std::mutex tls_mutex;
  std::shared_ptr<ssl::context> tls;  // null: plain TCP

  std::shared_ptr<ssl::context> current_tls() {
    std::lock_guard lock(tls_mutex);
    return tls;
  }
  std::atomic<std::size_t> active_requests{0};
  std::atomic<std::uint64_t> requests_started{0};
  std::atomic<std::size_t> active_connections{0};
  std::atomic<std::size_t> handshakes{0};  // TLS connections not yet past the handshake
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<net::steady_timer>> periodic;

  impl(server_options o, request_handler& h) : options(std::move(o)), handler(h), workers(options.worker_threads) {}

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), use_tuple);
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true));
      auto exec = socket.get_executor();
      auto report = [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("connection failed: {}", ex.what());
        }
      };
      auto ctx = current_tls();
      if (!ctx) {
        if (active_connections >= options.max_connections) {
          net::co_spawn(exec, refuse(plain_stream(std::move(socket))), report);
        } else {
          net::co_spawn(exec, session(plain_stream(std::move(socket))), report);
        }
        continue;
      }
      // Handshakes in progress are bounded too: a client that opens connections and never finishes
      // the handshake would otherwise hold sockets and memory without counting as a connection.
      if (handshakes >= options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++handshakes;  // here, not in the session: a burst of accepts must see each other
      net::co_spawn(exec, tls_session(tls_stream(plain_stream(std::move(socket)), *ctx), ctx), report);
    }
  }

  // The context stays alive (captured) for as long as its connection, even across a reload.
  net::awaitable<void> tls_session(tls_stream stream, std::shared_ptr<ssl::context> ctx) {
    (void)ctx;
    boost::system::error_code ec;
    {
      counted_scope done(handshakes, counted_scope::already_counted);
      tcp_layer(stream).expires_after(options.header_timeout);
      std::tie(ec) = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    }
    if (ec) co_return;
    if (active_connections >= options.max_connections) {
      co_await refuse(std::move(stream));
    } else {
      co_await session(std::move(stream));
    }
  }

  // Reads and discards a body the handler did not want, so the connection can be reused.
  // false: the body is too large or broken; close instead.
  template <class Stream>
  net::awaitable<bool> drain(Stream& stream, beast::flat_buffer& buf, bhttp::request_parser<bhttp::empty_body>& hp) {
    if (hp.is_done()) co_return true;
    if (auto len = hp.content_length(); len && *len > max_drain_bytes) co_return false;
    bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp));
    bp.body_limit(max_drain_bytes);
    std::vector<char> scratch(64 * 1024);
    while (!bp.is_done()) {
      bp.get().body().data = scratch.data();
      bp.get().body().size = scratch.size();
      tcp_layer(stream).expires_after(options.body_idle_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream, buf, bp, use_tuple);
      if (ec == bhttp::error::need_buffer) continue;
      if (ec) co_return false;
    }
    co_return true;
  }

  struct sized_body_result {
    std::optional<response> stop;  // the exchange's answer when it stopped early
    bool client_gone = false;
    std::uint64_t unread = 0;
  };

  // A Content-Length body bypasses the parser: what the header read left in `buf`, then reads
  // straight into the exchange's receive buffer (an upload's direct-I/O block), so each byte is
  // copied once, by the kernel. Exchanges without a buffer of their own get `chunk`.
  template <class Stream>
  net::awaitable<sized_body_result> read_sized_body(Stream& stream, beast::flat_buffer& buf, exchange& ex,
                                                    std::uint64_t remaining, std::vector<char>& chunk) {
    sized_body_result out;
    if (buf.size() > 0 && remaining > 0) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), remaining));
      out.stop = ex.consume(static_cast<const char*>(buf.data().data()), n);
      buf.consume(n);
      remaining -= n;
    }
    while (!out.stop && remaining > 0) {
      auto space = ex.receive_buffer();
      if (space.empty()) {
        if (chunk.empty()) chunk.resize(stream_chunk_size);
        space = chunk;
      }
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(space.size(), remaining));
      tcp_layer(stream).expires_after(options.body_idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(net::buffer(space.data(), want), use_tuple);
      if (ec) {
        out.client_gone = true;
        co_return out;
      }
      remaining -= n;
      out.stop = ex.consume(space.data(), n);
    }
    out.unread = remaining;
    co_return out;
  }

  net::awaitable<response> run_finish(exchange& ex, request& req) {
    if (!ex.blocking()) co_return ex.finish(req);
    co_return co_await net::co_spawn(
        workers, [&]() -> net::awaitable<response> { co_return ex.finish(req); }, net::use_awaitable);
  }

  // TLS: the bytes must pass through the TLS layer, so they are read and written in chunks.
  net::awaitable<bool> send_file(tls_stream& stream, const file_payload& f) {
    std::vector<char> chunk(256 * 1024);
    std::uint64_t offset = f.offset;
    std::uint64_t remaining = f.length;
    while (remaining > 0) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, chunk.size()));
      ssize_t n = ::pread(f.fd, chunk.data(), want, static_cast<off_t>(offset));
      if (n <= 0) co_return false;
      tcp_layer(stream).expires_after(options.body_idle_timeout);
      auto [ec, written] =
          co_await net::async_write(stream, net::buffer(chunk.data(), static_cast<std::size_t>(n)), use_tuple);
      if (ec) co_return false;
      offset += static_cast<std::uint64_t>(n);
      remaining -= static_cast<std::uint64_t>(n);
    }
    co_return true;
  }

  // Plain TCP: zero-copy from the page cache to the socket.
  net::awaitable<bool> send_file(plain_stream& stream, const file_payload& f) {
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
        timer.expires_after(options.body_idle_timeout);
        auto r = co_await (sock.async_wait(tcp::socket::wait_write, use_tuple) || timer.async_wait(use_tuple));
        if (r.index() == 1) co_return false;  // timed out
        if (std::get<0>(std::get<0>(r))) co_return false;
        continue;
      }
      co_return false;  // error, or the file ended early
    }
    co_return true;
  }

  template <class Stream>
  net::awaitable<bool> write_response(Stream& stream, verb method, response& res, bool keep_alive) {
    tcp_layer(stream).expires_after(options.body_idle_timeout);
    const bool head = method == verb::head;
    if (head || res.file) {
      bhttp::response<bhttp::empty_body> r{static_cast<bhttp::status>(res.status), 11};
      for (const auto& [k, v] : res.headers.items()) r.insert(k, v);
      std::uint64_t len = res.file ? res.file->length : res.head_length.value_or(res.body.size());
      if (res.status != 204 && res.status != 304) r.content_length(len);
      r.keep_alive(keep_alive);
      bhttp::response_serializer<bhttp::empty_body> sr{r};
      auto [ec, n] = co_await bhttp::async_write_header(stream, sr, use_tuple);
      if (ec) co_return false;
      if (!head && res.file && res.file->length > 0) co_return co_await send_file(stream, *res.file);
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

  // Over the connection limit: answer at once (never leave a client hanging) and close.
  template <class Stream>
  net::awaitable<void> refuse(Stream stream) {
    response r;
    r.status = 429;
    r.headers.add("Retry-After", "1");
    r.headers.add("Content-Type", "application/json; charset=utf-8");
    r.headers.add("Docker-Distribution-API-Version", "registry/2.0");
    r.body = R"({"errors":[{"code":"TOOMANYREQUESTS","message":"too many connections; retry later"}]})";
    co_await write_response(stream, verb::get, r, false);
    co_await linger_close(stream);
  }

  // Half-close, then read briefly so the peer gets the answer before a reset.
  net::awaitable<void> linger_close(plain_stream& stream) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(2));
    char sink[4096];
    for (int i = 0; i < 16; ++i) {
      auto [ec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
      if (ec) break;
    }
  }

  net::awaitable<void> linger_close(tls_stream& stream) {
    tcp_layer(stream).expires_after(std::chrono::seconds(2));
    auto [ec] = co_await stream.async_shutdown(use_tuple);
    (void)ec;
    beast::error_code ignored;
    tcp_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  template <class Stream>
  net::awaitable<void> session(Stream stream) {
    counted_scope connection(active_connections);
    beast::flat_buffer buf;
    std::vector<char> chunk;
    for (;;) {
      bhttp::request_parser<bhttp::empty_body> hp;
      hp.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      hp.body_limit(boost::none);  // each body mode sets its own limit once the route is known
      tcp_layer(stream).expires_after(options.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buf, hp, use_tuple);
      if (ec) {
        if (ec == bhttp::error::header_limit) {
          response r = plain_error(431, "request header fields too large");
          co_await write_response(stream, verb::get, r, false);
        } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                   ec != net::error::connection_reset && ec != net::error::operation_aborted && ec != net::error::eof) {
          response r = plain_error(400, "bad request");
          co_await write_response(stream, verb::get, r, false);
        }
        break;
      }
      counted_scope scope(active_requests);
      requests_started.fetch_add(1, std::memory_order_relaxed);
      request req = to_request(hp);
      bool keep_alive = hp.get().keep_alive() && !stopping;
      const bool expect_continue = [&] {
        auto e = req.header("Expect");
        return e && beast::iequals(*e, "100-continue");
      }();
      auto started = std::chrono::steady_clock::now();

      std::unique_ptr<exchange> ex;
      response res;
      bool body_consumed = false;
      try {
        ex = handler.route(req);
        switch (ex->mode()) {
          case body_mode::none: res = co_await run_finish(*ex, req); break;
          case body_mode::buffered: {
            const auto limit = ex->body_limit();
            if (req.content_length && *req.content_length > limit) {
              res = ex->too_large();
              break;
            }
            if (expect_continue && req.has_body()) {
              bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
              co_await bhttp::async_write(stream, cont, use_tuple);
            }
            bhttp::request_parser<bhttp::string_body> sp(std::move(hp));
            sp.body_limit(limit);
            tcp_layer(stream).expires_after(options.body_idle_timeout);
            auto [rec, rn] = co_await bhttp::async_read(stream, buf, sp, use_tuple);
            if (rec == bhttp::error::body_limit) {
              res = ex->too_large();
              keep_alive = false;
              body_consumed = true;
              break;
            }
            if (rec) {
              if (!is_malformed(rec)) co_return;  // the client went away or stalled
              res = ex->malformed_body();
              keep_alive = false;
              body_consumed = true;
              break;
            }
            body_consumed = true;
            req.body = std::move(sp.get().body());
            res = co_await run_finish(*ex, req);
            break;
          }
          case body_mode::stream: {
            if (auto early = ex->start(req)) {
              res = std::move(*early);
              break;
            }
            if (expect_continue && req.has_body()) {
              bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
              co_await bhttp::async_write(stream, cont, use_tuple);
            }
            body_consumed = true;
            std::optional<response> stop;
            bool complete = true;  // the whole body was read: the connection may serve another request
            if (!req.chunked && req.content_length) {
              auto r = co_await read_sized_body(stream, buf, *ex, *req.content_length, chunk);
              if (r.client_gone) co_return;  // drop the exchange
              stop = std::move(r.stop);
              complete = r.unread == 0;
            } else {
              bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp));
              bp.body_limit(boost::none);
              if (chunk.empty()) chunk.resize(stream_chunk_size);
              // Beast reads into the free space of `buf` (at least 512 bytes, at most 64 KiB a call):
              // without room, a large upload would arrive in hundreds of thousands of tiny reads.
              buf.reserve(stream_chunk_size);
              while (!bp.is_done()) {
                bp.get().body().data = chunk.data();
                bp.get().body().size = chunk.size();
                tcp_layer(stream).expires_after(options.body_idle_timeout);
                auto [rec, rn] = co_await bhttp::async_read(stream, buf, bp, use_tuple);
                if (rec && rec != bhttp::error::need_buffer) {
                  if (!is_malformed(rec)) co_return;  // client went away: drop the exchange
                  stop = ex->malformed_body();
                  break;
                }
                std::size_t got = chunk.size() - bp.get().body().size;
                if (got > 0) {
                  stop = ex->consume(chunk.data(), got);
                  if (stop) break;
                }
              }
              complete = bp.is_done() && !bp.need_eof();
            }
            if (stop) {
              res = std::move(*stop);
              keep_alive = keep_alive && complete;
            } else {
              res = co_await run_finish(*ex, req);
            }
            break;
          }
        }
      } catch (const std::exception& e) {
        spdlog::error("handler failed on {} {}: {}", bhttp::to_string(hp.get().method()), req.path, e.what());
        res = plain_error(500, "internal server error");
        keep_alive = false;
      }
      if (!body_consumed && req.has_body() && keep_alive) {
        if (expect_continue || !co_await drain(stream, buf, hp)) keep_alive = false;
      }
      auto status = res.status;
      bool ok = co_await write_response(stream, req.method, res, keep_alive);
      spdlog::debug(
          "{} {} {} {}us", bhttp::to_string(hp.get().method()), req.path, status,
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count());
      if (!ok || !keep_alive) break;
    }
    // Give the peer a moment to read the answer before the close turns unread input into a reset.
    co_await linger_close(stream);
  }
};

server::server(server_options options, request_handler& handler)
    : impl_(std::make_unique<impl>(std::move(options), handler)) {}

server::~server() {
  impl_->workers.stop();
  impl_->workers.join();
}

std::string server::listen() {
  beast::error_code ec;
  if (!impl_->options.tls_cert.empty() || !impl_->options.tls_key.empty()) {
    if (impl_->options.tls_cert.empty() || impl_->options.tls_key.empty()) {
      return "TLS needs both a certificate (--tls-cert) and a key (--tls-key)";
    }
    std::string err;
    auto ctx = make_tls_context(impl_->options.tls_cert, impl_->options.tls_key, err);
    if (!ctx) return err;
    impl_->tls = std::move(ctx);
  }
  auto addr = net::ip::make_address(impl_->options.host, ec);
  if (ec) return "invalid listen address '" + impl_->options.host + "'";
  tcp::endpoint ep{addr, impl_->options.port};
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (ec) return "cannot open socket: " + ec.message();
  a.set_option(net::socket_base::reuse_address(true), ec);
  a.bind(ep, ec);
  if (ec) {
    return "cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) + ": " + ec.message();
  }
  a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen: " + ec.message();
  return {};
}

std::uint16_t server::bound_port() const { return impl_->acceptor.local_endpoint().port(); }

std::string server::bound_address() const {
  auto ep = impl_->acceptor.local_endpoint();
  auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

std::uint64_t server::requests_started() const { return impl_->requests_started.load(std::memory_order_relaxed); }

std::size_t server::requests_in_progress() const { return impl_->active_requests.load(); }

void server::every(std::chrono::seconds interval, std::function<void()> task) {
  auto timer = std::make_unique<net::steady_timer>(impl_->ioc);
  auto* t = timer.get();
  impl_->periodic.push_back(std::move(timer));
  net::co_spawn(
      impl_->ioc,
      [this, t, interval, task = std::move(task)]() -> net::awaitable<void> {
        for (;;) {
          co_await net::co_spawn(
              impl_->workers,
              [&task]() -> net::awaitable<void> {
                try {
                  task();
                } catch (const std::exception& e) {
                  spdlog::error("background task failed: {}", e.what());
                }
                co_return;
              },
              net::use_awaitable);
          t->expires_after(interval);
          auto [ec] = co_await t->async_wait(use_tuple);
          if (ec) co_return;
        }
      },
      net::detached);
}

void server::stop() {
  net::post(impl_->ioc, [this] {
    if (impl_->stopping.exchange(true)) return;
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->signals.cancel();
    impl_->reload_signal.cancel();
    for (auto& t : impl_->periodic) t->cancel();
    // Let in-flight requests finish, up to the grace period.
    auto deadline = std::chrono::steady_clock::now() + impl_->options.shutdown_grace;
    auto waiter = std::make_shared<net::steady_timer>(impl_->ioc);
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [this, waiter, poll, deadline] {
      if (impl_->active_requests == 0 || std::chrono::steady_clock::now() >= deadline) {
        impl_->ioc.stop();
        return;
      }
      waiter->expires_after(std::chrono::milliseconds(50));
      waiter->async_wait([poll](beast::error_code) { (*poll)(); });
    };
    (*poll)();
  });
}

bool server::tls_enabled() const { return impl_->tls != nullptr; }

void server::wait_for_reload() {
  impl_->reload_signal.async_wait([this](beast::error_code ec, int) {
    if (ec) return;
    if (impl_->tls) {
      std::string err;
      auto ctx = make_tls_context(impl_->options.tls_cert, impl_->options.tls_key, err);
      if (ctx) {
        std::lock_guard lock(impl_->tls_mutex);
        impl_->tls = std::move(ctx);
        spdlog::info("SIGHUP: reloaded the TLS certificate and key");
      } else {
        spdlog::error("SIGHUP: keeping the current certificate: {}", err);
      }
    }
    wait_for_reload();
  });
}

void server::run() {
  wait_for_reload();
  impl_->signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", sig);
    stop();
  });
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  unsigned n =
      impl_->options.io_threads ? impl_->options.io_threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
  spdlog::info("server stopped");
}

}  // namespace berth::http
