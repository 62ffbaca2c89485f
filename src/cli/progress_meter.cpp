#include "berth/cli/progress_meter.hpp"

#include <unistd.h>

#include <cstdio>

#include "berth/cli/text_output.hpp"

namespace berth::cli {

progress_meter::progress_meter(std::string what, std::string noun, bool enabled)
    : what_(std::move(what)),
      noun_(std::move(noun)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_ - std::chrono::seconds(1)) {}

bool progress_meter::on_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string progress_meter::line(const std::string& what, const std::string& noun, std::uint64_t items_done,
                                 std::uint64_t items_total, std::uint64_t bytes_done, std::uint64_t bytes_total,
                                 double seconds) {
  std::string out = what + ": " + std::to_string(items_done) + "/" + std::to_string(items_total) + " " + noun + ", " +
                    human_size(bytes_done) + " of " + human_size(bytes_total);
  if (seconds >= 1 && bytes_done > 0) {
    const double rate = static_cast<double>(bytes_done) / seconds;
    out += ", " + human_size(static_cast<std::uint64_t>(rate)) + "/s";
    if (bytes_total > bytes_done) {
      const auto left = static_cast<std::uint64_t>(static_cast<double>(bytes_total - bytes_done) / rate + 0.5);
      out += ", " + (left >= 120 ? std::to_string(left / 60) + " min" : std::to_string(left) + " s") + " left";
    }
  }
  return out;
}

void progress_meter::update(std::uint64_t items_done, std::uint64_t items_total, std::uint64_t bytes_done,
                            std::uint64_t bytes_total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200) && items_done != items_total) return;
  last_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  auto text = line(what_, noun_, items_done, items_total, bytes_done, bytes_total, seconds);
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress_meter::finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace berth::cli
