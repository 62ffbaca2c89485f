// Content digests (OCI "algorithm:hex") and the streaming hasher that produces them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "berth/core/error.hpp"

namespace berth {

enum class digest_algorithm { sha256, sha512 };

class digest {
 public:
  digest() = default;
  digest(digest_algorithm algorithm, std::string hex) : algorithm_(algorithm), hex_(std::move(hex)) {}

  // Accepts only sha256 (64 hex) and sha512 (128 hex), lower-case, as the OCI spec registers them.
  static result<digest> parse(std::string_view text);

  digest_algorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;
  const std::string& hex() const { return hex_; }
  std::string str() const;
  bool empty() const { return hex_.empty(); }

  friend bool operator==(const digest&, const digest&) = default;

 private:
  digest_algorithm algorithm_ = digest_algorithm::sha256;
  std::string hex_;
};

// Incremental hash over a byte stream (OpenSSL EVP); copyable so a running hash can be checkpointed.
class hasher {
 public:
  explicit hasher(digest_algorithm algorithm = digest_algorithm::sha256);
  ~hasher();
  hasher(const hasher& other);
  hasher& operator=(const hasher& other);
  hasher(hasher&&) noexcept;
  hasher& operator=(hasher&&) noexcept;

  void update(const void* data, std::size_t size);
  // Digest of everything so far; the hasher stays usable.
  digest peek() const;
  digest_algorithm algorithm() const { return algorithm_; }

 private:
  digest_algorithm algorithm_;
  struct context;
  std::unique_ptr<context> ctx_;
};

digest digest_of(std::string_view bytes, digest_algorithm algorithm = digest_algorithm::sha256);

}  // namespace berth
