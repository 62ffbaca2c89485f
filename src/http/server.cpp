// The server's public face: binding the listener, periodic tasks, running until a signal with a
// graceful drain, SIGHUP certificate reloads. The connection work is in listener.cpp/session.hpp.
#include "berth/http/server.hpp"

#include <spdlog/spdlog.h>

#include <functional>
#include <thread>

#include "server_state.hpp"
#include "tls_context.hpp"

namespace berth::http {

server::server(server_options options, request_handler& handler)
    : impl_(std::make_unique<server_state>(std::move(options), handler)) {}

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
  if (ec) {
    // A host name ("localhost"): one of its addresses, IPv4 first, as Go's net.Listen picks it.
    tcp::resolver resolver(impl_->ioc);
    auto found = resolver.resolve(impl_->options.host, "", ec);
    if (ec || found.empty()) return "cannot resolve the listen host '" + impl_->options.host + "'";
    addr = found.begin()->endpoint().address();
    for (const auto& entry : found) {
      if (entry.endpoint().address().is_v4()) {
        addr = entry.endpoint().address();
        break;
      }
    }
  }
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

bool server::stopping() const { return impl_->stopping.load(); }

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
    const auto deadline = std::chrono::steady_clock::now() + impl_->options.shutdown_grace;
    net::co_spawn(
        impl_->ioc,
        [this, deadline]() -> net::awaitable<void> {
          net::steady_timer waiter(co_await net::this_coro::executor);
          while (impl_->active_requests != 0 && std::chrono::steady_clock::now() < deadline) {
            waiter.expires_after(std::chrono::milliseconds(50));
            co_await waiter.async_wait(use_tuple);
          }
          impl_->ioc.stop();
        },
        net::detached);
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
    spdlog::info("{}: received signal {}, shutting down", impl_->options.name, sig);
    stop();
  });
  net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
  unsigned n =
      impl_->options.io_threads ? impl_->options.io_threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
  spdlog::info("{} stopped", impl_->options.name);
}

}  // namespace berth::http
