#include "berth/registry/duty_roster.hpp"

#include <spdlog/spdlog.h>

#include "berth/meta/lease_index.hpp"

namespace berth {

bool duty_roster::run(const std::string& name, std::int64_t lease_seconds, const std::function<void()>& duty) {
  const auto now = clock_.now_seconds();
  auto held = leases_.acquire(name, holder_, now, now + lease_seconds);
  if (!held) {
    spdlog::warn("{}: cannot take its lease: {}", name, held.error_value().message);
    return false;
  }
  if (!*held) return false;  // another server does it
  {
    std::lock_guard lock(mutex_);
    held_.insert(name);
  }
  duty();
  return true;
}

void duty_roster::release_all() {
  std::set<std::string> names;
  {
    std::lock_guard lock(mutex_);
    names.swap(held_);
  }
  for (const auto& n : names) (void)leases_.release(n, holder_);
}

}  // namespace berth
