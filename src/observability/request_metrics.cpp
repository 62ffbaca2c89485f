#include "berth/observability/request_metrics.hpp"

#include <algorithm>
#include <string>

namespace berth::observability {
namespace {

std::string_view refusal_name(http::refusal why) {
  switch (why) {
    case http::refusal::too_many_connections: return "too_many_connections";
    case http::refusal::header_too_large: return "header_too_large";
    case http::refusal::malformed_header: return "malformed_header";
    case http::refusal::handler_failed: return "handler_failed";
  }
  return "handler_failed";
}

// Requests that ended before an adapter looked at them (e.g. a broken connection) count as "none".
std::string_view or_none(std::string_view s) { return s.empty() ? std::string_view("none") : s; }

}  // namespace

void request_metrics::on_request(const http::request& req, const http::request_outcome& o) {
  const auto api = or_none(req.notes.api);
  const auto route = or_none(req.notes.operation);
  const double seconds = static_cast<double>(o.duration.count()) / 1e6;
  const auto bucket = static_cast<std::size_t>(std::lower_bound(latency_bounds.begin(), latency_bounds.end(), seconds) -
                                               latency_bounds.begin());
  std::lock_guard lock(mutex_);
  ++requests_[{api, route, http::verb_name(req.method), o.status}];
  auto& l = latencies_[{api, route}];
  if (bucket < l.buckets.size()) ++l.buckets[bucket];
  ++l.count;
  l.sum += seconds;
  auto& t = traffic_[api];
  t.bytes_in += o.bytes_in;
  t.bytes_out += o.bytes_out;
  if (req.notes.unauthenticated) ++t.unauthenticated;
  if (req.notes.denied) ++t.denied;
}

void request_metrics::on_refusal(http::refusal why, std::string_view) {
  std::lock_guard lock(mutex_);
  ++refusals_[refusal_name(why)];
}

void request_metrics::write(exposition& out, std::size_t in_progress) const {
  std::lock_guard lock(mutex_);
  out.family("berth_http_requests_total", "counter", "Requests served, by API, route, method and status.");
  for (const auto& [k, n] : requests_) {
    const auto& [api, route, method, status] = k;
    const auto code = std::to_string(status);
    out.sample("berth_http_requests_total", {{"api", api}, {"route", route}, {"method", method}, {"status", code}}, n);
  }
  out.family("berth_http_request_duration_seconds", "histogram",
             "Time from a request's headers to the end of its response, by API and route.");
  for (const auto& [k, l] : latencies_) {
    const auto& [api, route] = k;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_bounds.size(); ++i) {
      cumulative += l.buckets[i];
      out.bucket("berth_http_request_duration_seconds_bucket", {{"api", api}, {"route", route}},
                 format_bound(latency_bounds[i]), cumulative);
    }
    out.bucket("berth_http_request_duration_seconds_bucket", {{"api", api}, {"route", route}}, "+Inf", l.count);
    out.sample("berth_http_request_duration_seconds_sum", {{"api", api}, {"route", route}}, l.sum);
    out.sample("berth_http_request_duration_seconds_count", {{"api", api}, {"route", route}}, l.count);
  }
  out.family("berth_http_request_bytes_total", "counter", "Request body bytes read, by API.");
  for (const auto& [api, t] : traffic_) out.sample("berth_http_request_bytes_total", {{"api", api}}, t.bytes_in);
  out.family("berth_http_response_bytes_total", "counter", "Response body bytes sent, by API.");
  for (const auto& [api, t] : traffic_) out.sample("berth_http_response_bytes_total", {{"api", api}}, t.bytes_out);
  out.family("berth_authentication_failures_total", "counter",
             "Requests refused because their credentials were missing, invalid or expired, by API.");
  for (const auto& [api, t] : traffic_) {
    out.sample("berth_authentication_failures_total", {{"api", api}}, t.unauthenticated);
  }
  out.family("berth_authorization_denials_total", "counter",
             "Authenticated requests a policy (or its absence) denied, by API.");
  for (const auto& [api, t] : traffic_) out.sample("berth_authorization_denials_total", {{"api", api}}, t.denied);
  out.family("berth_http_refusals_total", "counter",
             "Requests the transport answered itself (over limits, malformed, failed handlers), by reason.");
  for (auto why : {http::refusal::too_many_connections, http::refusal::header_too_large,
                   http::refusal::malformed_header, http::refusal::handler_failed}) {
    auto it = refusals_.find(refusal_name(why));
    out.sample("berth_http_refusals_total", {{"reason", refusal_name(why)}},
               it == refusals_.end() ? std::uint64_t{0} : it->second);
  }
  out.family("berth_http_requests_in_progress", "gauge", "Requests being served now.");
  out.sample("berth_http_requests_in_progress", {}, static_cast<std::uint64_t>(in_progress));
}

}  // namespace berth::observability
