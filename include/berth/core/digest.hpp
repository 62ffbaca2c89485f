// Content digests (OCI "algorithm:hex") and the streaming hasher that produces them.
#pragma once

#include <cstddef>
#include <cstdint>
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

// Incremental SHA-256/512 over a byte stream. Its running state is a plain value: it can be copied
// (a checkpoint), and exported to bytes and imported again in another process, so an upload is
// never re-read to continue its hash. OpenSSL's EVP contexts cannot be exported; the low-level
// SHA256_CTX/SHA512_CTX can, and OpenSSL's own EVP digests are those same structures driven by the
// same block functions (docs/architecture.md, "Upload hash state").
class hasher {
 public:
  explicit hasher(digest_algorithm algorithm = digest_algorithm::sha256);

  void update(const void* data, std::size_t size);
  // Digest of everything so far; the hasher stays usable.
  digest peek() const;
  digest_algorithm algorithm() const { return algorithm_; }
  std::uint64_t bytes_hashed() const;

  // A self-describing byte string (format, algorithm, chaining values, length, the partial block),
  // the same on every platform.
  std::string export_state() const;
  // errc::internal for anything that is not a state export_state wrote.
  static result<hasher> import_state(std::string_view state);

 private:
  digest_algorithm algorithm_;
  alignas(8) unsigned char ctx_[224];  // SHA256_CTX or SHA512_CTX (checked in digest.cpp)
};

digest digest_of(std::string_view bytes, digest_algorithm algorithm = digest_algorithm::sha256);

}  // namespace berth
