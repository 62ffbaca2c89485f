#include "berth/core/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace berth {
namespace {

const EVP_MD* md_for(digest_algorithm algorithm) {
  return algorithm == digest_algorithm::sha512 ? EVP_sha512() : EVP_sha256();
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

result<digest> digest::parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return make_error(errc::digest_invalid, "invalid digest format");
  }
  auto alg = text.substr(0, colon);
  auto hex = text.substr(colon + 1);
  digest_algorithm a;
  std::size_t want;
  if (alg == "sha256") {
    a = digest_algorithm::sha256;
    want = 64;
  } else if (alg == "sha512") {
    a = digest_algorithm::sha512;
    want = 128;
  } else {
    return make_error(errc::digest_invalid, "unsupported digest algorithm");
  }
  if (hex.size() != want || !is_lower_hex(hex)) {
    return make_error(errc::digest_invalid, "invalid digest encoding");
  }
  return digest(a, std::string(hex));
}

std::string_view digest::algorithm_name() const {
  return algorithm_ == digest_algorithm::sha512 ? "sha512" : "sha256";
}

std::string digest::str() const {
  std::string s(algorithm_name());
  s += ':';
  s += hex_;
  return s;
}

struct hasher::context {
  EVP_MD_CTX* ctx = nullptr;
  ~context() { EVP_MD_CTX_free(ctx); }
};

hasher::hasher(digest_algorithm algorithm) : algorithm_(algorithm), ctx_(std::make_unique<context>()) {
  ctx_->ctx = EVP_MD_CTX_new();
  if (ctx_->ctx == nullptr || EVP_DigestInit_ex(ctx_->ctx, md_for(algorithm), nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex failed");
  }
}

hasher::~hasher() = default;
hasher::hasher(hasher&&) noexcept = default;
hasher& hasher::operator=(hasher&&) noexcept = default;

hasher::hasher(const hasher& other) : algorithm_(other.algorithm_), ctx_(std::make_unique<context>()) {
  ctx_->ctx = EVP_MD_CTX_new();
  if (ctx_->ctx == nullptr || EVP_MD_CTX_copy_ex(ctx_->ctx, other.ctx_->ctx) != 1) {
    throw std::runtime_error("EVP_MD_CTX_copy_ex failed");
  }
}

hasher& hasher::operator=(const hasher& other) {
  if (this != &other) *this = hasher(other);
  return *this;
}

void hasher::update(const void* data, std::size_t size) {
  if (size > 0) EVP_DigestUpdate(ctx_->ctx, data, size);
}

digest hasher::peek() const {
  hasher copy(*this);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy.ctx_->ctx, md, &len);
  static constexpr char hexdigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(hexdigits[md[i] >> 4]);
    hex.push_back(hexdigits[md[i] & 0xf]);
  }
  return digest(algorithm_, std::move(hex));
}

digest digest_of(std::string_view bytes, digest_algorithm algorithm) {
  hasher h(algorithm);
  h.update(bytes.data(), bytes.size());
  return h.peek();
}

}  // namespace berth
