#include "berth/upstream/http_event_sink.hpp"

#include "berth/auth/sigv4.hpp"
#include "berth/http/http_client.hpp"
#include "berth/upstream/http_upstream.hpp"

namespace berth::upstream {

result<std::shared_ptr<http::http_client>> http_event_sink::client_for(const std::string& origin) {
  std::lock_guard lock(mutex_);
  if (auto it = clients_.find(origin); it != clients_.end()) return it->second;
  http::client_options options;
  options.connect_timeout = timeout_;
  options.io_timeout = timeout_;
  options.max_idle_connections = 4;
  auto c = http::make_http_client(origin, options);
  if (!c) return c.take_error();
  clients_[origin] = *c;
  return *c;
}

result<void> http_event_sink::post(const event_webhook& to, const std::string& event_id, const std::string& body) {
  auto where = split_url(to.url);
  if (!where) return make_error(errc::unavailable, "not an http(s) URL: " + to.url);
  auto client = client_for(where->origin);
  if (!client) return client.take_error();
  http::client_request req;
  req.method = "POST";
  req.target = where->target;
  req.headers = {{"Content-Type", "application/json"}, {"User-Agent", "berth-events"}, {"X-Berth-Event-Id", event_id}};
  if (!to.secret.empty())
    req.headers.emplace_back("X-Berth-Signature-256", "sha256=" + auth::hmac_sha256_hex(to.secret, body));
  req.body = body;
  auto r = (*client)->send(req, 1024 * 1024);
  if (!r) return make_error(errc::unavailable, r.error_value().message);
  if (r->status < 200 || r->status > 299) {
    return make_error(errc::unavailable, "HTTP " + std::to_string(r->status));
  }
  return {};
}

}  // namespace berth::upstream
