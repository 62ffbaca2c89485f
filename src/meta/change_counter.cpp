#include "berth/meta/change_counter.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace berth::meta {
namespace {
constexpr std::size_t mapped_size = 4096;
}

result<std::unique_ptr<change_counter>> change_counter::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errc::internal, "cannot open " + path);
  struct stat st {};
  // A new file is zero-filled to the mapped size (ftruncate of a shorter file only extends it).
  if (::fstat(fd, &st) != 0 || (st.st_size < static_cast<off_t>(mapped_size) && ::ftruncate(fd, mapped_size) != 0)) {
    ::close(fd);
    return make_error(errc::internal, "cannot size " + path);
  }
  void* m = ::mmap(nullptr, mapped_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    ::close(fd);
    return make_error(errc::internal, "cannot map " + path);
  }
  return std::unique_ptr<change_counter>(new change_counter(fd, static_cast<std::uint64_t*>(m)));
}

change_counter::~change_counter() {
  ::munmap(word_, mapped_size);
  ::close(fd_);
}

std::uint64_t change_counter::load() const { return __atomic_load_n(word_, __ATOMIC_ACQUIRE); }

void change_counter::bump() { __atomic_fetch_add(word_, 1, __ATOMIC_ACQ_REL); }

}  // namespace berth::meta
