// Time as the domain sees it; tests inject a fixed clock instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace berth {

class clock {
 public:
  virtual ~clock() = default;
  virtual std::int64_t now_seconds() const = 0;
};

class system_clock final : public clock {
 public:
  std::int64_t now_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace berth
