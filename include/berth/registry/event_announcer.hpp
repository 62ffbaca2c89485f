// ECR's "ECR Image Action" events, as webhooks. Each push and each deletion (BatchDeleteImage,
// a V2 DELETE, a lifecycle expiry, garbage collection of untagged images) writes, in its own
// transaction, one event per configured webhook into the outbox (meta::event_index); delivery
// workers on any server post them in the EventBridge envelope, oldest first per repository and
// webhook, and retry a failing receiver with exponential back-off up to max_attempts.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/core/doorbell.hpp"
#include "berth/core/error.hpp"
#include "berth/meta/event_index.hpp"
#include "berth/registry/registry.hpp"

namespace berth {

struct event_webhook {
  std::string url;
  std::string secret;  // "": the posts are not signed
};

struct event_settings {
  std::vector<event_webhook> webhooks;
  std::int64_t retry_base_seconds = 1;
  std::int64_t retry_max_seconds = 300;
  int max_attempts = 1000;          // ~3.5 days at the maximum back-off
  std::int64_t hold_seconds = 120;  // longer than a post may take
};

// Where events go. Errors: errc::unavailable (unreachable, timed out, or not a 2xx: try again later).
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual result<void> post(const event_webhook& to, const std::string& event_id, const std::string& body) = 0;
};

struct event_counts {
  std::uint64_t delivered = 0;
  std::uint64_t failed_attempts = 0;
  std::uint64_t dropped = 0;  // gave up after max_attempts, or the webhook is no longer configured
};

class event_announcer final : public image_events {
 public:
  event_announcer(meta::event_index& outbox, event_sink& sink, const clock& clk, std::string account_id,
                  std::string region, event_settings settings);

  std::vector<meta::outbox_event> pushed(const std::string& repository, const std::string& digest,
                                         const std::vector<std::string>& tags, const std::string& media_type) override;
  meta::deletion_events deletions() override;
  void written() override { bell_.ring(); }
  // Rung when this process has written events; the delivery workers wait on it between polls.
  doorbell& bell() { return bell_; }

  // Posts one due event; false when none was due.
  bool deliver_next(const std::string& holder);
  // At start-up, for each worker name: what this server's predecessor held when it died is due now.
  void recover(const std::string& holder);
  event_counts counts() const;

  // The EventBridge envelope of one image action (a JSON object's text).
  static std::string envelope(const std::string& event_id, std::int64_t at, const std::string& account_id,
                              const std::string& region, const std::string& action, const std::string& repository,
                              const std::string& digest, const std::string& tag, const std::string& media_type);

 private:
  std::vector<meta::outbox_event> announce(const std::string& action, const std::string& repository,
                                           const std::string& digest, const std::string& tag,
                                           const std::string& media_type, std::int64_t at);
  std::int64_t backoff(std::int64_t attempts) const;

  meta::event_index& outbox_;
  event_sink& sink_;
  const clock& clock_;
  std::string account_id_;
  std::string region_;
  event_settings settings_;
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failed_attempts_{0};
  std::atomic<std::uint64_t> dropped_{0};
  doorbell bell_;
};

// A version 4 UUID (random), as EventBridge writes event ids.
std::string random_uuid();

}  // namespace berth
