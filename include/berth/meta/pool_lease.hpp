// A connection borrowed from a pool (SQLite's readers, PostgreSQL's connections), given back when
// the lease ends; the pool decides whether to keep it.
#pragma once

#include <memory>
#include <utility>

namespace berth::meta {

template <class Pool, class Connection>
class pool_lease {
 public:
  pool_lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
  ~pool_lease() {
    if (c_) pool_->give_back(std::move(c_));
  }
  pool_lease(pool_lease&&) noexcept = default;
  pool_lease(const pool_lease&) = delete;
  pool_lease& operator=(const pool_lease&) = delete;
  pool_lease& operator=(pool_lease&&) = delete;
  Connection* operator->() const { return c_.get(); }
  Connection& operator*() const { return *c_; }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> c_;
};

}  // namespace berth::meta
