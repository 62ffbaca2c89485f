// SigV4 Authorization headers, dates, canonical forms, and login tokens.
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/auth/login_token.hpp"
#include "berth/auth/sigv4.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  (void)berth::auth::parse_authorization_header(s);
  (void)berth::auth::parse_amz_date(s);
  (void)berth::auth::canonical_uri(s);
  (void)berth::auth::canonical_query(s, true);
  (void)berth::auth::base64_decode(s);
  static const berth::auth::credential_store store("000000000000", {{"root", "AKID", "secret", true}});
  static const berth::auth::login_token_issuer tokens(std::string(32, 'k'), store);
  if (tokens.verify(s, 1'000'000)) __builtin_trap();  // nothing forged verifies
  berth::auth::signable_request r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"Host", "h"}, {"X-Amz-Date", "20261123T002451Z"}, {"Authorization", s}};
  r.payload_hash = berth::auth::sha256_hex("");
  berth::auth::sigv4_verifier v(store, "us-east-1", "ecr");
  (void)v.verify(r, 1795393491);
  return 0;
}
