// The transport on a real loopback socket: what a request carries (peer, TLS flag, notes), the
// observer, stream bodies, and refusals answered by the handler rather than the transport.
#include "berth/http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "berth/http/simple_exchange.hpp"

using namespace berth;

namespace {

// A stream of `n` bytes 'a'..'z', handed out in pieces of at most 1000.
class letters final : public byte_reader {
 public:
  explicit letters(std::size_t n) : left_(n) {}
  result<std::size_t> read(char* out, std::size_t size) override {
    std::size_t n = std::min({size, left_, std::size_t{1000}});
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>('a' + (sent_ + i) % 26);
    sent_ += n;
    left_ -= n;
    return n;
  }

 private:
  std::size_t left_;
  std::size_t sent_ = 0;
};

class test_handler final : public http::request_handler {
 public:
  std::unique_ptr<http::exchange> route(const http::request& head) override {
    {
      std::lock_guard lock(mutex);
      seen_peer = head.peer;
      seen_tls = head.tls;
    }
    head.notes.api = "test";
    head.notes.operation = head.path == "/hello" ? "hello" : "other";
    if (head.path == "/stream") {
      http::response r;
      r.stream = http::stream_payload{std::make_shared<letters>(300000), 300000};
      return http::respond_with(std::move(r));
    }
    if (head.path == "/slow") {
      return std::make_unique<http::function_exchange>(
          [this](http::request&) {
            std::unique_lock lock(mutex);
            release.wait(lock, [this] { return go; });
            return http::response{};
          },
          true);
    }
    http::response r;
    r.body = "hello";
    return http::respond_with(std::move(r));
  }
  http::response refuse(http::refusal why) override {
    http::response r;
    r.status = why == http::refusal::too_many_connections ? 503 : 418;
    r.body = "refused by the handler";
    return r;
  }

  std::mutex mutex;
  std::condition_variable release;
  bool go = false;
  std::string seen_peer;
  bool seen_tls = true;
};

class recording_observer final : public http::request_observer {
 public:
  void on_request(const http::request& req, const http::request_outcome& o) override {
    std::lock_guard lock(mutex);
    operations.push_back(req.notes.operation);
    outcomes.push_back(o);
  }
  void on_refusal(http::refusal why, std::string_view) override {
    std::lock_guard lock(mutex);
    refusals.push_back(why);
  }
  std::mutex mutex;
  std::vector<std::string_view> operations;
  std::vector<http::request_outcome> outcomes;
  std::vector<http::refusal> refusals;
};

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends `request` and reads until the server closes or `want` bytes came.
std::string exchange_on(int fd, const std::string& request, std::size_t want = SIZE_MAX) {
  EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[65536];
  while (out.size() < want) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

class http_server_test : public ::testing::Test {
 protected:
  void start(std::size_t max_connections = 64, std::size_t max_header_bytes = 8192) {
    http::server_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.io_threads = 1;
    o.worker_threads = 2;
    o.max_connections = max_connections;
    o.max_header_bytes = max_header_bytes;
    o.observer = &observer;
    srv = std::make_unique<http::server>(o, handler);
    ASSERT_EQ(srv->listen(), "");
    runner = std::thread([this] { srv->run(); });
  }
  void TearDown() override {
    if (srv) {
      {
        std::lock_guard lock(handler.mutex);
        handler.go = true;
      }
      handler.release.notify_all();
      srv->stop();
      runner.join();
    }
  }

  test_handler handler;
  recording_observer observer;
  std::unique_ptr<http::server> srv;
  std::thread runner;
};

}  // namespace

TEST_F(http_server_test, a_request_carries_its_peer_and_the_observer_hears_of_it) {
  start();
  int fd = connect_to(srv->bound_port());
  auto r = exchange_on(fd, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ::close(fd);
  EXPECT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("\r\n\r\nhello"), std::string::npos);
  {
    std::lock_guard lock(handler.mutex);
    EXPECT_EQ(handler.seen_peer.rfind("127.0.0.1:", 0), 0u) << handler.seen_peer;
    EXPECT_FALSE(handler.seen_tls);
  }
  // The observer is told once the response is out, on the server's thread: wait for it.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(observer.mutex);
      if (!observer.outcomes.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard lock(observer.mutex);
  ASSERT_EQ(observer.outcomes.size(), 1u);
  EXPECT_EQ(observer.operations[0], "hello");
  EXPECT_EQ(observer.outcomes[0].status, 200u);
  EXPECT_EQ(observer.outcomes[0].bytes_out, 5u);
  EXPECT_TRUE(observer.outcomes[0].completed);
}

TEST_F(http_server_test, a_stream_body_is_sent_whole) {
  start();
  int fd = connect_to(srv->bound_port());
  auto r = exchange_on(fd, "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ::close(fd);
  auto end = r.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_NE(r.substr(0, end).find("Content-Length: 300000"), std::string::npos);
  auto body = r.substr(end + 4);
  ASSERT_EQ(body.size(), 300000u);
  for (std::size_t i = 0; i < body.size(); i += 9973) EXPECT_EQ(body[i], static_cast<char>('a' + i % 26)) << i;
  // HEAD announces the length and sends nothing.
  fd = connect_to(srv->bound_port());
  auto h = exchange_on(fd, "HEAD /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ::close(fd);
  EXPECT_NE(h.find("Content-Length: 300000"), std::string::npos);
  EXPECT_EQ(h.substr(h.find("\r\n\r\n") + 4), "");
}

TEST_F(http_server_test, refusals_are_answered_by_the_handler) {
  start(1, 1024);
  // One connection busy in a blocking exchange; the next is over the limit.
  int busy = connect_to(srv->bound_port());
  ASSERT_GT(::send(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 31, MSG_NOSIGNAL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int over = connect_to(srv->bound_port());
  auto r = exchange_on(over, "");
  ::close(over);
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 503");
  EXPECT_NE(r.find("refused by the handler"), std::string::npos);
  {
    std::lock_guard lock(handler.mutex);
    handler.go = true;
  }
  handler.release.notify_all();
  ::close(busy);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Headers over the limit.
  int fd = connect_to(srv->bound_port());
  auto big = exchange_on(fd, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n");
  ::close(fd);
  EXPECT_EQ(big.substr(0, 12), "HTTP/1.1 418");
  std::lock_guard lock(observer.mutex);
  EXPECT_NE(std::find(observer.refusals.begin(), observer.refusals.end(), http::refusal::too_many_connections),
            observer.refusals.end());
  EXPECT_NE(std::find(observer.refusals.begin(), observer.refusals.end(), http::refusal::header_too_large),
            observer.refusals.end());
}
