#include "berth/cli/text_output.hpp"

#include <cstdio>

#include "berth/core/utc_time.hpp"

namespace berth::cli {

std::string counted(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string human_size(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string utc_time(std::int64_t seconds) { return seconds <= 0 ? std::string("-") : utc_iso8601(seconds); }

}  // namespace berth::cli
