#include "berth/auth/secret_sealer.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

#include "berth/auth/login_token.hpp"

namespace berth::auth {
namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::string secret_sealer::seal(std::string_view plaintext, std::string_view bound_to) const {
  std::string nonce(nonce_size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out = nonce;
  out.resize(nonce_size + plaintext.size() + tag_size);
  int len = 0;
  int total = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data()) + nonce_size;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), bytes(nonce)) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(bound_to), static_cast<int>(bound_to.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), dst, &len, bytes(plaintext), static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), dst + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size, dst + total) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM sealing failed");
  return "v1." + base64_encode(out, true);
}

result<std::string> secret_sealer::open(std::string_view sealed, std::string_view bound_to) const {
  auto damaged = [] { return make_error(errc::internal, "a sealed access key secret does not open with this key"); };
  if (!sealed.starts_with("v1.")) return damaged();
  auto raw = base64_decode(sealed.substr(3));
  if (!raw || raw->size() < nonce_size + tag_size) return damaged();
  std::string_view all(*raw);
  auto nonce = all.substr(0, nonce_size);
  auto body = all.substr(nonce_size, all.size() - nonce_size - tag_size);
  std::string tag(all.substr(all.size() - tag_size));
  cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(body.size(), '\0');
  int len = 0;
  int total = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), bytes(nonce)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(bound_to), static_cast<int>(bound_to.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), dst, &len, bytes(body), static_cast<int>(body.size())) == 1;
  total = len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag.data()) == 1 &&
       EVP_DecryptFinal_ex(ctx.get(), dst + total, &len) == 1;
  if (!ok) return damaged();
  out.resize(static_cast<std::size_t>(total + len));
  return out;
}

}  // namespace berth::auth
