// Shared by the transport's parts (private header): Beast and Asio names, the two stream types,
// and the conversion of a parsed request head into berth::http::request.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "berth/http/message.hpp"

namespace berth::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
namespace ssl = net::ssl;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
inline constexpr std::size_t stream_chunk_size = 128 * 1024;

template <class Stream>
beast::tcp_stream& tcp_layer(Stream& s) {
  return beast::get_lowest_layer(s);
}

inline verb to_verb(bhttp::verb v) {
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

inline request to_request(const bhttp::request_parser<bhttp::empty_body>& p) {
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
inline bool is_malformed(const beast::error_code& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_chunk).category()) return false;
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message && ec != bhttp::error::need_more &&
         ec != bhttp::error::need_buffer;
}

template <class Socket>
std::string peer_of(const Socket& s) {
  beast::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return {};
  auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace berth::http
