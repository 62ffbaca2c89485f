// A scratch directory removed when the test ends.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "berth/core/clock.hpp"

namespace berth::testing_support {

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class fixed_clock final : public berth::clock {
 public:
  std::int64_t now_seconds() const override { return now; }
  std::int64_t now = 1'700'000'000;
};

}  // namespace berth::testing_support
