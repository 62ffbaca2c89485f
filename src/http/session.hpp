// One connection (private header): reads each request's headers, routes it to an exchange, feeds
// the exchange its body the way it asks (none, buffered with a limit, or streamed), writes the
// response, and tells the observer. Over-limit connections get the handler's refusal and close.
#pragma once

#include <spdlog/spdlog.h>

#include <type_traits>

#include "body_reader.hpp"
#include "response_writer.hpp"
#include "server_state.hpp"

namespace berth::http {

inline net::awaitable<response> run_finish(server_state& s, exchange& ex, request& req) {
  if (!ex.blocking()) co_return ex.finish(req);
  co_return co_await net::co_spawn(
      s.workers, [&]() -> net::awaitable<response> { co_return ex.finish(req); }, net::use_awaitable);
}

// Over the connection limit: answer at once (never leave a client hanging) and close.
template <class Stream>
net::awaitable<void> refuse_connection(server_state& s, Stream stream) {
  s.refused(refusal::too_many_connections, peer_of(tcp_layer(stream).socket()));
  response r = s.handler.refuse(refusal::too_many_connections);
  co_await write_response(stream, verb::get, r, false, s.workers, s.options.body_idle_timeout);
  co_await linger_close(stream);
}

template <class Stream>
net::awaitable<void> serve_connection(server_state& s, Stream stream) {
  counted_scope connection(s.active_connections);
  const auto& o = s.options;
  const std::string peer = peer_of(tcp_layer(stream).socket());
  beast::flat_buffer buf;
  std::vector<char> chunk;
  for (;;) {
    bhttp::request_parser<bhttp::empty_body> hp;
    hp.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    hp.body_limit(boost::none);  // each body mode sets its own limit once the route is known
    tcp_layer(stream).expires_after(o.header_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buf, hp, use_tuple);
    if (ec) {
      std::optional<refusal> why;
      if (ec == bhttp::error::header_limit) {
        why = refusal::header_too_large;
      } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                 ec != net::error::connection_reset && ec != net::error::operation_aborted && ec != net::error::eof) {
        why = refusal::malformed_header;
      }
      if (why) {
        s.refused(*why, peer);
        response r = s.handler.refuse(*why);
        co_await write_response(stream, verb::get, r, false, s.workers, o.body_idle_timeout);
      }
      break;
    }
    counted_scope scope(s.active_requests);
    s.requests_started.fetch_add(1, std::memory_order_relaxed);
    request req = to_request(hp);
    req.peer = peer;
    req.tls = std::is_same_v<Stream, tls_stream>;
    bool keep_alive = hp.get().keep_alive() && !s.stopping;
    const bool expect_continue = [&] {
      auto e = req.header("Expect");
      return e && beast::iequals(*e, "100-continue");
    }();
    const auto started = std::chrono::steady_clock::now();
    auto observe = [&](unsigned status, std::uint64_t in, std::uint64_t out, bool completed) {
      if (!o.observer) return;
      o.observer->on_request(req, request_outcome{status, in, out,
                                                  std::chrono::duration_cast<std::chrono::microseconds>(
                                                      std::chrono::steady_clock::now() - started),
                                                  completed});
    };
    auto send_continue = [&]() -> net::awaitable<void> {
      if (expect_continue && req.has_body()) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        co_await bhttp::async_write(stream, cont, use_tuple);
      }
    };

    std::unique_ptr<exchange> ex;
    response res;
    bool body_consumed = false;
    bool client_gone = false;  // went away or stalled mid-body: nobody to answer
    std::uint64_t bytes_in = 0;
    try {
      ex = s.handler.route(req);
      switch (ex->mode()) {
        case body_mode::none: res = co_await run_finish(s, *ex, req); break;
        case body_mode::buffered: {
          const auto limit = ex->body_limit();
          if (req.content_length && *req.content_length > limit) {
            res = ex->too_large();
            break;
          }
          co_await send_continue();
          auto body = co_await read_buffered_body(stream, buf, hp, limit, o.body_idle_timeout);
          body_consumed = true;
          if (body.ec == bhttp::error::body_limit) {
            res = ex->too_large();
            keep_alive = false;
          } else if (body.ec && !is_malformed(body.ec)) {
            client_gone = true;
          } else if (body.ec) {
            res = ex->malformed_body();
            keep_alive = false;
          } else {
            bytes_in = body.body.size();
            req.body = std::move(body.body);
            res = co_await run_finish(s, *ex, req);
          }
          break;
        }
        case body_mode::stream: {
          if (auto early = ex->start(req)) {
            res = std::move(*early);
            break;
          }
          co_await send_continue();
          body_consumed = true;
          // (Two co_awaits in one conditional expression miscompile with g++ 12: an if, then.)
          body_result body;
          if (!req.chunked && req.content_length) {
            body = co_await read_sized_body(stream, buf, *ex, *req.content_length, chunk, o.body_idle_timeout);
          } else {
            body = co_await read_chunked_body(stream, buf, hp, *ex, chunk, o.body_idle_timeout);
          }
          bytes_in = body.bytes;
          if (body.client_gone) {
            client_gone = true;
          } else if (body.stop) {
            res = std::move(*body.stop);
            keep_alive = keep_alive && body.complete;
          } else {
            res = co_await run_finish(s, *ex, req);
          }
          break;
        }
      }
    } catch (const std::exception& e) {
      spdlog::error("handler failed on {} {}: {}", bhttp::to_string(hp.get().method()), req.path, e.what());
      s.refused(refusal::handler_failed, peer);
      res = s.handler.refuse(refusal::handler_failed);
      keep_alive = false;
    }
    if (client_gone) {
      ex.reset();  // before the close: an upload records what it received
      observe(0, bytes_in, 0, false);
      co_return;
    }
    if (!body_consumed && req.has_body() && keep_alive) {
      if (expect_continue || !co_await drain_body(stream, buf, hp, o.body_idle_timeout)) keep_alive = false;
    }
    const auto status = res.status;
    const auto out = req.method == verb::head ? 0 : body_length(res);
    bool ok = co_await write_response(stream, req.method, res, keep_alive, s.workers, o.body_idle_timeout);
    observe(status, bytes_in, ok ? out : 0, ok);
    if (!ok || !keep_alive) break;
  }
  // Give the peer a moment to read the answer before the close turns unread input into a reset.
  co_await linger_close(stream);
}

}  // namespace berth::http
