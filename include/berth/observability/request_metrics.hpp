// Counts every request the transport reports: by API, route (the adapter's operation), method and
// status; latency histograms by API and route; bytes in and out by API; authentication failures
// and authorization denials by API; refusals by reason. Labels come from static strings and status
// codes, so the series are bounded whatever clients send.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <tuple>

#include "berth/http/message.hpp"
#include "berth/observability/exposition.hpp"

namespace berth::observability {

class request_metrics final : public http::request_observer {
 public:
  // Upper bounds of the latency buckets, in seconds (then +Inf).
  static constexpr std::array<double, 14> latency_bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,    0.25,  0.5,    1,     2.5,  10,    60};

  void on_request(const http::request& req, const http::request_outcome& outcome) override;
  void on_refusal(http::refusal why, std::string_view peer) override;

  // Writes the families; `in_progress` is the transport's count of requests being served.
  void write(exposition& out, std::size_t in_progress) const;

 private:
  struct latency {
    std::array<std::uint64_t, latency_bounds.size()> buckets{};  // not cumulative; summed when written
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct traffic {
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t unauthenticated = 0;
    std::uint64_t denied = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string_view, std::string_view, std::string_view, unsigned>, std::uint64_t> requests_;
  std::map<std::pair<std::string_view, std::string_view>, latency> latencies_;
  std::map<std::string_view, traffic> traffic_;
  std::map<std::string_view, std::uint64_t> refusals_;
};

}  // namespace berth::observability
