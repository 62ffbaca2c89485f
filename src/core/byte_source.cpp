#include "berth/core/byte_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace berth {
namespace {

class region_reader final : public byte_reader {
 public:
  explicit region_reader(file_region r) : r_(std::move(r)) {}
  result<std::size_t> read(char* out, std::size_t size) override {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size, r_.length - done_));
    if (want == 0) return std::size_t{0};
    for (;;) {
      ssize_t n = ::pread(r_.fd, out, want, static_cast<off_t>(r_.offset + done_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return make_error(errc::internal, std::string("read: ") + std::strerror(errno));
      if (n == 0) return make_error(errc::internal, "the file ended early");
      done_ += static_cast<std::uint64_t>(n);
      return static_cast<std::size_t>(n);
    }
  }

 private:
  file_region r_;
  std::uint64_t done_ = 0;
};

class shared_reader final : public byte_reader {
 public:
  explicit shared_reader(std::shared_ptr<byte_reader> r) : r_(std::move(r)) {}
  result<std::size_t> read(char* out, std::size_t size) override { return r_->read(out, size); }

 private:
  std::shared_ptr<byte_reader> r_;
};

class refusing_reader final : public byte_reader {
 public:
  result<std::size_t> read(char*, std::size_t) override {
    return make_error(errc::internal, "the bytes are behind a redirect");
  }
};

}  // namespace

std::unique_ptr<byte_reader> reader_for(byte_source source) {
  if (auto* f = std::get_if<file_region>(&source)) return std::make_unique<region_reader>(std::move(*f));
  if (auto* s = std::get_if<stream_source>(&source)) return std::make_unique<shared_reader>(std::move(s->reader));
  return std::make_unique<refusing_reader>();
}

}  // namespace berth
