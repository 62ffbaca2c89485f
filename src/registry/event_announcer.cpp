// Image action events: the envelope, the outbox rows a change writes, and delivery with back-off.
#include "berth/registry/event_announcer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>

#include "berth/core/names.hpp"
#include "berth/core/utc_time.hpp"

namespace berth {
namespace {

const event_webhook* find_webhook(const std::vector<event_webhook>& hooks, const std::string& url) {
  auto it = std::find_if(hooks.begin(), hooks.end(), [&](const event_webhook& w) { return w.url == url; });
  return it == hooks.end() ? nullptr : &*it;
}

}  // namespace

std::string random_uuid() {
  constexpr std::string_view digits = "0123456789abcdef";
  auto hex = random_text(digits, 32);
  hex[12] = '4';                               // version 4
  hex[16] = "89ab"[digits.find(hex[16]) % 4];  // the RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

event_announcer::event_announcer(meta::event_index& outbox, event_sink& sink, const clock& clk, std::string account_id,
                                 std::string region, event_settings settings)
    : outbox_(outbox),
      sink_(sink),
      clock_(clk),
      account_id_(std::move(account_id)),
      region_(std::move(region)),
      settings_(std::move(settings)) {}

std::string event_announcer::envelope(const std::string& event_id, std::int64_t at, const std::string& account_id,
                                      const std::string& region, const std::string& action,
                                      const std::string& repository, const std::string& digest, const std::string& tag,
                                      const std::string& media_type) {
  nlohmann::ordered_json detail = {
      {"result", "SUCCESS"}, {"repository-name", repository}, {"image-digest", digest}, {"action-type", action}};
  if (!tag.empty()) detail["image-tag"] = tag;
  if (!media_type.empty()) detail["manifest-media-type"] = media_type;
  nlohmann::ordered_json e = {{"version", "0"},
                              {"id", event_id},
                              {"detail-type", "ECR Image Action"},
                              {"source", "aws.ecr"},
                              {"account", account_id},
                              {"time", utc_iso8601(at)},
                              {"region", region},
                              {"resources", nlohmann::json::array()},
                              {"detail", std::move(detail)}};
  return e.dump();
}

std::vector<meta::outbox_event> event_announcer::announce(const std::string& action, const std::string& repository,
                                                          const std::string& digest, const std::string& tag,
                                                          const std::string& media_type, std::int64_t at) {
  std::vector<meta::outbox_event> out;
  for (const auto& w : settings_.webhooks) {
    // An id for each webhook's copy: a receiver behind two of them can tell them apart.
    auto id = random_uuid();
    auto body = envelope(id, at, account_id_, region_, action, repository, digest, tag, media_type);
    out.push_back(meta::outbox_event{w.url, repository, std::move(id), std::move(body)});
  }
  return out;
}

std::vector<meta::outbox_event> event_announcer::pushed(const std::string& repository, const std::string& digest,
                                                        const std::vector<std::string>& tags,
                                                        const std::string& media_type) {
  const auto at = clock_.now_seconds();
  if (tags.empty()) return announce("PUSH", repository, digest, "", media_type, at);
  std::vector<meta::outbox_event> out;
  for (const auto& t : tags) {
    auto more = announce("PUSH", repository, digest, t, media_type, at);
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return out;
}

meta::deletion_events event_announcer::deletions() {
  if (settings_.webhooks.empty()) return {};
  const auto at = clock_.now_seconds();
  return meta::deletion_events{at, [this, at](const std::string& repository, const meta::image_ref& gone) {
                                 return announce("DELETE", repository, gone.digest, gone.tag, "", at);
                               }};
}

std::int64_t event_announcer::backoff(std::int64_t attempts) const {
  std::int64_t delay = settings_.retry_base_seconds;
  for (std::int64_t i = 0; i < attempts && delay < settings_.retry_max_seconds; ++i) delay *= 2;
  return std::min(delay, settings_.retry_max_seconds);
}

bool event_announcer::deliver_next(const std::string& holder) {
  const auto now = clock_.now_seconds();
  auto claimed = outbox_.claim_next(holder, now, now + settings_.hold_seconds);
  if (!claimed) {
    spdlog::warn("events: cannot read the outbox: {}", claimed.error_value().message);
    return false;
  }
  if (!*claimed) return false;
  const auto& row = **claimed;
  const auto* hook = find_webhook(settings_.webhooks, row.event.webhook);
  if (!hook) {
    spdlog::warn("events: dropped event {} for {}: that webhook is no longer configured", row.event.event_id,
                 row.event.webhook);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    (void)outbox_.remove(row.id);
    return true;
  }
  auto posted = sink_.post(*hook, row.event.event_id, row.event.body);
  if (posted) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    if (auto r = outbox_.remove(row.id); !r) {
      // Delivered again later: at least once, as promised.
      spdlog::warn("events: delivered {} but cannot remove it: {}", row.event.event_id, r.error_value().message);
    }
    return true;
  }
  failed_attempts_.fetch_add(1, std::memory_order_relaxed);
  const auto& why = posted.error_value().message;
  if (row.attempts + 1 >= settings_.max_attempts) {
    spdlog::error("events: dropped event {} for {} after {} attempts: {}", row.event.event_id, hook->url,
                  row.attempts + 1, why);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    (void)outbox_.remove(row.id);
    return true;
  }
  const auto next = now + backoff(row.attempts);
  spdlog::warn("events: {} refused event {} (attempt {}): {}; next attempt in {} s", hook->url, row.event.event_id,
               row.attempts + 1, why, next - now);
  if (auto r = outbox_.retry(row.id, next, why); !r) {
    spdlog::warn("events: cannot set event {} back: {}", row.event.event_id, r.error_value().message);
  }
  // The repository's next events wait behind this one; others may be due.
  return true;
}

void event_announcer::recover(const std::string& holder) {
  if (auto r = outbox_.release(holder); !r) {
    spdlog::warn("events: cannot release the events {} held: {}", holder, r.error_value().message);
  }
}

event_counts event_announcer::counts() const {
  return event_counts{delivered_.load(std::memory_order_relaxed), failed_attempts_.load(std::memory_order_relaxed),
                      dropped_.load(std::memory_order_relaxed)};
}

}  // namespace berth
