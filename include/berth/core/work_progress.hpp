// How far a long piece of work is (a backup's copy, fsck's reading): what a progress display shows.
#pragma once

#include <cstdint>
#include <functional>

namespace berth {

struct work_progress {
  std::uint64_t items_done = 0;
  std::uint64_t items_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

using progress_listener = std::function<void(const work_progress&)>;

}  // namespace berth
