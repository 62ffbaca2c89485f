// The progress of a long command (backup, restore, fsck) on a terminal: one line on stderr,
// redrawn in place at most 5 times a second, with items and bytes done, the rate and the time
// left. Off a terminal, or with --output json, it writes nothing: the command's summary on stdout
// is all a script reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace berth::cli {

class progress_meter {
 public:
  // `enabled`: stderr is a terminal and the output is for people (see on_terminal).
  progress_meter(std::string what, std::string noun, bool enabled);
  ~progress_meter() { finish(); }
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;

  void update(std::uint64_t items_done, std::uint64_t items_total, std::uint64_t bytes_done, std::uint64_t bytes_total);
  // Clears the line (the summary follows).
  void finish();

  // "backup: 120/500 blobs, 1.2 GiB of 3.4 GiB, 80.0 MiB/s, 30 s left"
  static std::string line(const std::string& what, const std::string& noun, std::uint64_t items_done,
                          std::uint64_t items_total, std::uint64_t bytes_done, std::uint64_t bytes_total,
                          double seconds);
  static bool on_terminal();

 private:
  std::string what_;
  std::string noun_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace berth::cli
