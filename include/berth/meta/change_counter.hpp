// A counter every process on one SQLite database shares through a small memory-mapped file beside
// it (<db>-access, as SQLite keeps <db>-shm): writers of what authorization caches bump it, readers
// compare it without a query or a system call. It is what makes the access generation free on the
// hot path; a server database (PostgreSQL, N servers) keeps the generation in a row instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "berth/core/error.hpp"

namespace berth::meta {

class change_counter {
 public:
  static result<std::unique_ptr<change_counter>> open(const std::string& path);
  ~change_counter();
  change_counter(const change_counter&) = delete;
  change_counter& operator=(const change_counter&) = delete;

  std::uint64_t load() const;
  void bump();

 private:
  change_counter(int fd, std::uint64_t* word) : fd_(fd), word_(word) {}
  int fd_;
  std::uint64_t* word_;  // in the shared mapping
};

}  // namespace berth::meta
