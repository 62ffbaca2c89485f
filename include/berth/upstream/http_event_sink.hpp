// Events posted as webhooks: POST of the event's JSON to the webhook's URL, with the event id in
// X-Berth-Event-Id and, when the webhook has a secret, X-Berth-Signature-256: sha256=<hex HMAC-SHA256
// of the body with the secret> (GitHub's webhook convention). Any 2xx delivers; anything else, a
// timeout or a connection that fails is errc::unavailable, tried again later.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "berth/registry/event_announcer.hpp"

namespace berth::http {
class http_client;
}

namespace berth::upstream {

class http_event_sink final : public event_sink {
 public:
  explicit http_event_sink(std::chrono::seconds timeout) : timeout_(timeout) {}
  result<void> post(const event_webhook& to, const std::string& event_id, const std::string& body) override;

 private:
  result<std::shared_ptr<http::http_client>> client_for(const std::string& origin);

  std::chrono::seconds timeout_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<http::http_client>> clients_;  // by scheme://host:port
};

}  // namespace berth::upstream
