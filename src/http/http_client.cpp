// The outbound HTTP/1.1 client (see http_client.hpp). Each connection owns an io_context, so a
// blocking call is an async operation with a deadline run to completion on the calling thread.
#include "berth/http/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <variant>

namespace berth::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

error unavailable(const std::string& host, std::string_view what, const boost::system::error_code& ec) {
  return make_error(errc::unavailable, std::string(what) + " " + host + ": " + ec.message());
}

struct endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string host_header;
};

// One connection and the io_context that runs its operations.
class connection {
 public:
  connection(const endpoint& ep, const client_options& opt, net::ssl::context* tls) : ep_(ep), opt_(opt), tls_(tls) {
    // Beast reads at most the buffer's free capacity (at least 512 bytes) per call: without room,
    // a streamed body arrives 512 bytes per recvmsg and a timer reset (measured: 120 MB/s).
    buffer_.reserve(64 * 1024);
  }

  result<void> connect() {
    tcp::resolver resolver(ioc_);
    boost::system::error_code ec;
    auto found = resolver.resolve(ep_.host, ep_.port, ec);
    if (ec) return unavailable(ep_.host_header, "cannot resolve", ec);
    auto& layer = tls_ ? stream_.emplace<tls_stream>(ioc_, *tls_).next_layer() : stream_.emplace<plain_stream>(ioc_);
    layer.expires_after(opt_.connect_timeout);
    layer.async_connect(found, [&](const boost::system::error_code& e, const tcp::endpoint&) { ec = e; });
    if (auto r = run("cannot connect to", ec); !r) return r;
    layer.socket().set_option(tcp::no_delay(true), ec);
    if (auto* s = std::get_if<tls_stream>(&stream_)) {
      if (!SSL_set_tlsext_host_name(s->native_handle(), ep_.host.c_str())) {
        return make_error(errc::unavailable, "TLS set-up failed for " + ep_.host_header);
      }
      s->set_verify_callback(net::ssl::host_name_verification(ep_.host));
      layer.expires_after(opt_.io_timeout);
      s->async_handshake(net::ssl::stream_base::client, [&](const boost::system::error_code& e) { ec = e; });
      if (auto r = run("TLS handshake failed with", ec); !r) return r;
    }
    return {};
  }

  template <class Message>
  result<void> write(Message& m) {
    boost::system::error_code ec;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(opt_.io_timeout);
      bhttp::async_write(s, m, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    });
    return run("cannot send to", ec);
  }

  // A streamed request: its header, then its body a buffer at a time (need_buffer only says the
  // serializer wants the next one).
  template <class Serializer>
  result<void> write_head(Serializer& sr) {
    boost::system::error_code ec;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(opt_.io_timeout);
      bhttp::async_write_header(s, sr, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    });
    return run("cannot send to", ec);
  }

  template <class Serializer>
  result<void> write_some(Serializer& sr) {
    boost::system::error_code ec;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(opt_.io_timeout);
      bhttp::async_write(s, sr, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    });
    ioc_.restart();
    ioc_.run();
    if (ec && ec != bhttp::error::need_buffer) return unavailable(ep_.host_header, "cannot send to", ec);
    return {};
  }

  template <class Parser>
  result<void> read_header(Parser& p) {
    boost::system::error_code ec;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(opt_.io_timeout);
      bhttp::async_read_header(s, buffer_, p, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    });
    return run("no response from", ec);
  }

  template <class Parser>
  result<void> read_all(Parser& p) {
    boost::system::error_code ec;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(opt_.io_timeout);
      bhttp::async_read(s, buffer_, p, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    });
    return run("broken response from", ec);
  }

  // Reads some body bytes into p's buffer_body; need_buffer just means the buffer is full.
  template <class Parser>
  result<void> read_some(Parser& p) {
    boost::system::error_code ec;
    visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(opt_.io_timeout);
      bhttp::async_read_some(s, buffer_, p, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    });
    ioc_.restart();
    ioc_.run();
    // need_buffer only says the body buffer is full: the bytes read so far are there.
    if (ec && ec != bhttp::error::need_buffer) return unavailable(ep_.host_header, "broken response from", ec);
    return {};
  }

  const endpoint& ep() const { return ep_; }

 private:
  template <class F>
  void visit(F&& f) {
    std::visit(
        [&](auto& s) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, std::monostate>) f(s);
        },
        stream_);
  }

  result<void> run(std::string_view what, boost::system::error_code& ec) {
    ioc_.restart();
    ioc_.run();
    if (ec) return unavailable(ep_.host_header, what, ec);
    return {};
  }

  const endpoint& ep_;
  const client_options& opt_;
  net::ssl::context* tls_;
  net::io_context ioc_{1};
  std::variant<std::monostate, plain_stream, tls_stream> stream_;
  beast::flat_buffer buffer_;
};

using request_message = bhttp::request<bhttp::span_body<const char>>;

request_message make_message(const client_request& r, const endpoint& ep) {
  request_message m;
  m.method_string(r.method);
  m.target(r.target);
  m.version(11);
  m.set(bhttp::field::host, ep.host_header);
  for (const auto& [k, v] : r.headers) m.insert(k, v);
  m.body() = boost::span<const char>(r.body.data(), r.body.size());
  if (!r.body.empty() || r.method == "PUT" || r.method == "POST") m.content_length(r.body.size());
  m.keep_alive(true);
  return m;
}

template <class Fields>
header_list to_headers(const Fields& f) {
  header_list out;
  for (const auto& field : f) out.add(std::string(field.name_string()), std::string(field.value()));
  return out;
}

class pooled_client;

// A streamed body; gives the connection back to the pool once the body has been read to its end.
class streamed_body final : public client_body_reader {
 public:
  streamed_body(pooled_client& owner, std::unique_ptr<connection> c,
                std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> p)
      : owner_(owner), conn_(std::move(c)), parser_(std::move(p)), headers_(to_headers(parser_->get().base())) {}
  ~streamed_body() override;
  unsigned status() const override { return parser_->get().result_int(); }
  const header_list& headers() const override { return headers_; }
  result<std::size_t> read(char* out, std::size_t size) override {
    if (!conn_) return make_error(errc::unavailable, "the response was already cut short");
    while (!parser_->is_done()) {
      auto& body = parser_->get().body();
      body.data = out;
      body.size = size;
      if (auto r = conn_->read_some(*parser_); !r) {
        conn_.reset();
        return r.take_error();
      }
      const std::size_t got = size - body.size;
      if (got > 0) return got;
    }
    return std::size_t{0};
  }

 private:
  pooled_client& owner_;
  std::unique_ptr<connection> conn_;
  std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser_;
  header_list headers_;
};

class pooled_client final : public http_client, public std::enable_shared_from_this<pooled_client> {
 public:
  pooled_client(endpoint ep, client_options opt, std::unique_ptr<net::ssl::context> tls)
      : ep_(std::move(ep)), opt_(opt), tls_(std::move(tls)) {}

  const std::string& host_header() const override { return ep_.host_header; }

  result<client_response> send(const client_request& r, std::size_t max_body) override {
    return with_connection([&](connection& c, bool& keep) -> result<client_response> {
      auto m = make_message(r, ep_);
      if (auto w = c.write(m); !w) return w.take_error();
      bhttp::response_parser<bhttp::string_body> p;
      p.body_limit(max_body);
      if (r.method == "HEAD") p.skip(true);
      if (auto rd = c.read_all(p); !rd) return rd.take_error();
      auto& msg = p.get();
      client_response out;
      out.status = msg.result_int();
      out.headers = to_headers(msg.base());
      out.body = std::move(msg.body());
      keep = msg.keep_alive();
      return out;
    });
  }

  result<client_response> send_streamed(const client_request& r, byte_reader& body, std::uint64_t length,
                                        std::size_t max_body) override {
    for (int attempt = 0;; ++attempt) {
      auto taken = take();
      if (!taken) return taken.take_error();
      auto [c, reused] = std::move(taken).value();
      bhttp::request<bhttp::buffer_body> m;
      m.method_string(r.method);
      m.target(r.target);
      m.version(11);
      m.set(bhttp::field::host, ep_.host_header);
      for (const auto& [k, v] : r.headers) m.insert(k, v);
      m.content_length(length);
      m.keep_alive(true);
      m.body().data = nullptr;
      m.body().more = length > 0;
      bhttp::request_serializer<bhttp::buffer_body> sr{m};
      if (auto w = c->write_head(sr); !w) {
        if (reused && attempt == 0) continue;  // the peer closed an idle connection: once more, fresh
        return w.take_error();
      }
      // Past the header the body has been read from: no second attempt.
      std::vector<char> buffer(256 * 1024);
      std::uint64_t sent = 0;
      while (sent < length) {
        auto n =
            body.read(buffer.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - sent)));
        if (!n) return n.take_error();
        if (*n == 0) return make_error(errc::internal, "the body ended before its length");
        sent += *n;
        m.body().data = buffer.data();
        m.body().size = *n;
        m.body().more = sent < length;
        if (auto w = c->write_some(sr); !w) return w.take_error();
      }
      if (length == 0) {
        if (auto w = c->write_some(sr); !w) return w.take_error();
      }
      bhttp::response_parser<bhttp::string_body> p;
      p.body_limit(max_body);
      if (auto rd = c->read_all(p); !rd) return rd.take_error();
      auto& msg = p.get();
      client_response out;
      out.status = msg.result_int();
      out.headers = to_headers(msg.base());
      out.body = std::move(msg.body());
      if (msg.keep_alive()) give_back(std::move(c));
      return out;
    }
  }

  result<std::unique_ptr<client_body_reader>> open(const client_request& r) override {
    for (int attempt = 0;; ++attempt) {
      auto taken = take();
      if (!taken) return taken.take_error();
      auto [c, reused] = std::move(taken).value();
      auto m = make_message(r, ep_);
      auto p = std::make_unique<bhttp::response_parser<bhttp::buffer_body>>();
      p->body_limit(boost::none);
      if (r.method == "HEAD") p->skip(true);
      auto w = c->write(m);
      auto h = w ? c->read_header(*p) : result<void>(w.take_error());
      if (!h) {
        if (reused && attempt == 0) continue;  // the peer closed an idle connection: once more, fresh
        return h.take_error();
      }
      return std::unique_ptr<client_body_reader>(std::make_unique<streamed_body>(*this, std::move(c), std::move(p)));
    }
  }

  void give_back(std::unique_ptr<connection> c) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < opt_.max_idle_connections) idle_.push_back(std::move(c));
  }

 private:
  // A pooled connection (reused: true) or a new one.
  result<std::pair<std::unique_ptr<connection>, bool>> take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return std::pair{std::move(c), true};
      }
    }
    auto c = std::make_unique<connection>(ep_, opt_, tls_.get());
    if (auto r = c->connect(); !r) return r.take_error();
    return std::pair{std::move(c), false};
  }

  template <class F>
  result<client_response> with_connection(F&& f) {
    for (int attempt = 0;; ++attempt) {
      auto taken = take();
      if (!taken) return taken.take_error();
      auto [c, reused] = std::move(taken).value();
      bool keep = false;  // whether the response allows another request on the connection
      auto r = f(*c, keep);
      if (!r) {
        if (reused && attempt == 0) continue;  // the peer closed an idle connection: once more, fresh
        return r;
      }
      if (keep) give_back(std::move(c));
      return r;
    }
  }

  endpoint ep_;
  client_options opt_;
  std::unique_ptr<net::ssl::context> tls_;
  std::mutex mutex_;
  std::deque<std::unique_ptr<connection>> idle_;
};

streamed_body::~streamed_body() {
  if (conn_ && parser_->is_done() && parser_->get().keep_alive()) owner_.give_back(std::move(conn_));
}

}  // namespace

result<std::shared_ptr<http_client>> make_http_client(const std::string& base_url, client_options options) {
  endpoint ep;
  std::string_view rest = base_url;
  if (rest.starts_with("https://")) {
    ep.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return make_error(errc::invalid_parameter, "endpoint must start with http:// or https://: " + base_url);
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return make_error(errc::invalid_parameter, "endpoint must be scheme://host[:port] without a path: " + base_url);
  }
  ep.host_header = std::string(rest);
  auto colon = rest.rfind(':');
  const bool bracketed = rest.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || rest[colon - 1] == ']')) {
    ep.host = std::string(rest.substr(0, colon));
    ep.port = std::string(rest.substr(colon + 1));
    if (ep.port.empty() || ep.port.find_first_not_of("0123456789") != std::string::npos) {
      return make_error(errc::invalid_parameter, "bad port in endpoint: " + base_url);
    }
  } else {
    ep.host = std::string(rest);
    ep.port = ep.tls ? "443" : "80";
  }
  if (bracketed && ep.host.size() > 2) ep.host = ep.host.substr(1, ep.host.size() - 2);
  std::unique_ptr<net::ssl::context> tls;
  if (ep.tls) {
    tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
    tls->set_default_verify_paths();
    tls->set_verify_mode(net::ssl::verify_peer);
    tls->set_options(net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1);
  }
  return std::shared_ptr<http_client>(std::make_shared<pooled_client>(std::move(ep), options, std::move(tls)));
}

}  // namespace berth::http
