#include "berth/core/digest.hpp"

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

namespace berth {
namespace {

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

std::string_view digest::algorithm_name() const { return algorithm_ == digest_algorithm::sha512 ? "sha512" : "sha256"; }

std::string digest::str() const {
  std::string s(algorithm_name());
  s += ':';
  s += hex_;
  return s;
}

// The low-level digest API is deprecated in OpenSSL 3.0 but present: it is what OpenSSL's default
// provider runs underneath EVP (providers/implementations/digests/sha2_prov.c), with the same
// accelerated block functions, and unlike an EVP context its state is a plain struct.
static_assert(sizeof(SHA256_CTX) <= 224 && sizeof(SHA512_CTX) <= 224);
static_assert(alignof(SHA256_CTX) <= 8 && alignof(SHA512_CTX) <= 8);

namespace {

SHA256_CTX* as256(unsigned char* p) { return reinterpret_cast<SHA256_CTX*>(p); }
const SHA256_CTX* as256(const unsigned char* p) { return reinterpret_cast<const SHA256_CTX*>(p); }
SHA512_CTX* as512(unsigned char* p) { return reinterpret_cast<SHA512_CTX*>(p); }
const SHA512_CTX* as512(const unsigned char* p) { return reinterpret_cast<const SHA512_CTX*>(p); }

constexpr unsigned char state_format = 1;

template <class T>
void put_be(std::string& out, T v) {
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <class T>
bool get_be(std::string_view& in, T& v) {
  if (in.size() < sizeof(T)) return false;
  v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | static_cast<unsigned char>(in[i]));
  in.remove_prefix(sizeof(T));
  return true;
}

// The two contexts differ in word size and where they keep the partial block (SHA256_CTX in `data`,
// which md32_common.h fills with input bytes as they are; SHA512_CTX in `u.p`).
unsigned char* partial_block(SHA256_CTX& c) { return reinterpret_cast<unsigned char*>(c.data); }
unsigned char* partial_block(SHA512_CTX& c) { return c.u.p; }
const unsigned char* partial_block(const SHA256_CTX& c) { return reinterpret_cast<const unsigned char*>(c.data); }
const unsigned char* partial_block(const SHA512_CTX& c) { return c.u.p; }

// Chaining values, bit count (low, high), partial-block length, partial block.
template <class Word, class Ctx>
void export_context(const Ctx& c, std::string& out) {
  for (auto h : c.h) put_be<Word>(out, h);
  put_be<Word>(out, c.Nl);
  put_be<Word>(out, c.Nh);
  put_be<std::uint32_t>(out, c.num);
  out.append(reinterpret_cast<const char*>(partial_block(c)), c.num);
}

template <class Word, std::size_t block, class Ctx>
bool import_context(std::string_view in, Ctx& c) {
  Word nl = 0, nh = 0;
  std::uint32_t num = 0;
  for (auto& v : c.h) {
    Word x = 0;
    if (!get_be(in, x)) return false;
    v = x;
  }
  if (!get_be(in, nl) || !get_be(in, nh) || !get_be(in, num)) return false;
  // The partial block is what the bit count says is left over, and nothing else follows.
  if (num >= block || (nl >> 3) % block != num || in.size() != num) return false;
  c.Nl = nl;
  c.Nh = nh;
  c.num = num;
  std::memcpy(partial_block(c), in.data(), num);
  return true;
}

std::string to_hex(const unsigned char* md, std::size_t len) {
  static constexpr char hexdigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (std::size_t i = 0; i < len; ++i) {
    hex.push_back(hexdigits[md[i] >> 4]);
    hex.push_back(hexdigits[md[i] & 0xf]);
  }
  return hex;
}

}  // namespace

hasher::hasher(digest_algorithm algorithm) : algorithm_(algorithm), ctx_{} {
  if (algorithm_ == digest_algorithm::sha512) {
    SHA512_Init(as512(ctx_));
  } else {
    SHA256_Init(as256(ctx_));
  }
}

void hasher::update(const void* data, std::size_t size) {
  if (size == 0) return;
  if (algorithm_ == digest_algorithm::sha512) {
    SHA512_Update(as512(ctx_), data, size);
  } else {
    SHA256_Update(as256(ctx_), data, size);
  }
}

digest hasher::peek() const {
  hasher copy(*this);
  unsigned char md[SHA512_DIGEST_LENGTH];
  if (algorithm_ == digest_algorithm::sha512) {
    SHA512_Final(md, as512(copy.ctx_));
    return digest(algorithm_, to_hex(md, SHA512_DIGEST_LENGTH));
  }
  SHA256_Final(md, as256(copy.ctx_));
  return digest(algorithm_, to_hex(md, SHA256_DIGEST_LENGTH));
}

std::uint64_t hasher::bytes_hashed() const {
  if (algorithm_ == digest_algorithm::sha512) {
    const auto* c = as512(ctx_);
    return (static_cast<std::uint64_t>(c->Nh) << 61) | (c->Nl >> 3);
  }
  const auto* c = as256(ctx_);
  return ((static_cast<std::uint64_t>(c->Nh) << 32) | c->Nl) >> 3;
}

std::string hasher::export_state() const {
  std::string out;
  out.push_back(static_cast<char>(state_format));
  if (algorithm_ == digest_algorithm::sha512) {
    out.push_back(2);
    export_context<std::uint64_t>(*as512(ctx_), out);
  } else {
    out.push_back(1);
    export_context<std::uint32_t>(*as256(ctx_), out);
  }
  return out;
}

result<hasher> hasher::import_state(std::string_view in) {
  auto bad = [] { return make_error(errc::internal, "not a hash state"); };
  if (in.size() < 2 || static_cast<unsigned char>(in[0]) != state_format) return bad();
  const auto kind = static_cast<unsigned char>(in[1]);
  in.remove_prefix(2);
  if (kind == 2) {
    hasher h(digest_algorithm::sha512);
    if (!import_context<std::uint64_t, SHA512_CBLOCK>(in, *as512(h.ctx_))) return bad();
    return h;
  }
  if (kind == 1) {
    hasher h(digest_algorithm::sha256);
    if (!import_context<std::uint32_t, SHA256_CBLOCK>(in, *as256(h.ctx_))) return bad();
    return h;
  }
  return bad();
}

digest digest_of(std::string_view bytes, digest_algorithm algorithm) {
  hasher h(algorithm);
  h.update(bytes.data(), bytes.size());
  return h.peek();
}

}  // namespace berth
