#include "berth/auth/login_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

namespace berth::auth {
namespace {

std::string mac(const std::string& key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

error invalid() { return make_error(errc::token_invalid, "Not Authorized"); }

}  // namespace

std::string base64_encode(std::string_view data, bool url_safe) {
  static constexpr char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* a = url_safe ? url_alphabet : std_alphabet;
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(data[k]); };
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += a[(v >> 6) & 63];
    out += a[v & 63];
  }
  if (i < data.size()) {
    unsigned v = byte(i) << 16;
    if (i + 1 < data.size()) v |= byte(i + 1) << 8;
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    if (i + 1 < data.size()) {
      out += a[(v >> 6) & 63];
    } else if (!url_safe) {
      out += '=';
    }
    if (!url_safe) out += '=';
  }
  return out;
}

result<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return make_error(errc::invalid_parameter, "invalid base64");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return make_error(errc::invalid_parameter, "invalid base64");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

issued_token login_token_issuer::issue(const identity& who, std::int64_t now) const {
  auto expires = now + lifetime_;
  nlohmann::json claims = {{"k", who.access_key_id}, {"i", now}, {"e", expires}};
  auto payload = base64_encode(claims.dump(), true);
  auto token = "v1." + payload + "." + base64_encode(mac(key_, "v1." + payload), true);
  return issued_token{std::move(token), expires};
}

result<identity> login_token_issuer::verify(const std::string& token, std::int64_t now) const {
  if (!token.starts_with("v1.") || token.size() > 4096) return invalid();
  auto dot = token.find('.', 3);
  if (dot == std::string::npos) return invalid();
  auto signed_part = std::string_view(token).substr(0, dot);
  auto given = base64_decode(std::string_view(token).substr(dot + 1));
  if (!given) return invalid();
  auto expected = mac(key_, signed_part);
  if (given->size() != expected.size() || CRYPTO_memcmp(given->data(), expected.data(), expected.size()) != 0) {
    return invalid();
  }
  auto payload = base64_decode(signed_part.substr(3));
  if (!payload) return invalid();
  auto claims = nlohmann::json::parse(*payload, nullptr, false);
  if (claims.is_discarded() || !claims.is_object() || !claims.contains("k") || !claims["k"].is_string() ||
      !claims.contains("e") || !claims["e"].is_number_integer()) {
    return invalid();
  }
  if (claims["e"].get<std::int64_t>() <= now) {
    return make_error(errc::token_expired, "Your authorization token has expired. Reauthenticate and try again.");
  }
  auto who = credentials_.identity_for(claims["k"].get<std::string>());
  if (!who) return invalid();  // the principal was removed since the token was issued
  return *who;
}

std::string blob_url_signer::signature(const std::string& repo, const std::string& digest, std::int64_t expires) const {
  return base64_encode(mac(key_, "blob\n" + repo + "\n" + digest + "\n" + std::to_string(expires)), true);
}

bool blob_url_signer::verify(const std::string& repo, const std::string& digest, std::int64_t expires,
                             const std::string& given, std::int64_t now) const {
  if (expires < now) return false;
  auto expected = signature(repo, digest, expires);
  return expected.size() == given.size() && CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

}  // namespace berth::auth
