#include "berth/auth/login_token.hpp"

#include <gtest/gtest.h>

using namespace berth;
using namespace berth::auth;

namespace {
const std::string key(32, 'k');
const credential_store token_credentials("123456789012", {credential{"root", "AKROOT", "s", true},
                                                          credential{"alice", "AKALICE", "s2", false}});
}  // namespace

TEST(login_token, round_trip_and_no_colon) {
  login_token_issuer issuer(key, token_credentials);
  auto alice = *token_credentials.identity_for("AKALICE");
  EXPECT_EQ(alice.arn, "arn:aws:iam::123456789012:user/alice");
  auto t = issuer.issue(alice, 1000);
  EXPECT_EQ(t.expires_at, 1000 + 12 * 3600);
  EXPECT_EQ(t.token.find(':'), std::string::npos);
  auto who = issuer.verify(t.token, 2000);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->name, "alice");
}

TEST(login_token, expiry_forgery_and_deleted_principal) {
  login_token_issuer issuer(key, token_credentials);
  auto t = issuer.issue(*token_credentials.identity_for("AKALICE"), 1000);
  auto expired = issuer.verify(t.token, 1000 + 12 * 3600);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error_value().code, errc::token_expired);

  login_token_issuer other_key(std::string(32, 'x'), token_credentials);
  EXPECT_EQ(other_key.verify(t.token, 2000).error_value().code, errc::token_invalid);
  // Extending the expiry in the payload breaks the MAC.
  auto forged = t.token;
  forged[5] = forged[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(issuer.verify(forged, 2000).error_value().code, errc::token_invalid);
  for (auto junk : {"", "v1.", "v1.x.y", "nonsense", "v1..."}) {
    EXPECT_EQ(issuer.verify(junk, 2000).error_value().code, errc::token_invalid) << junk;
  }
  const credential_store without_alice("123456789012", {credential{"root", "AKROOT", "s", true}});
  login_token_issuer after_removal(key, without_alice);
  EXPECT_EQ(after_removal.verify(t.token, 2000).error_value().code, errc::token_invalid);
}

TEST(base64, both_alphabets) {
  EXPECT_EQ(base64_encode("AWS:abc"), "QVdTOmFiYw==");
  EXPECT_EQ(base64_decode("QVdTOmFiYw==").value(), "AWS:abc");
  EXPECT_EQ(base64_decode("QVdTOmFiYw").value(), "AWS:abc");
  EXPECT_EQ(base64_encode("\xfb\xff", true), "-_8");
  EXPECT_EQ(base64_decode("-_8").value(), "\xfb\xff");
  EXPECT_FALSE(base64_decode("a$b="));
}

TEST(blob_url_signer, binds_repository_digest_and_time) {
  blob_url_signer s(key);
  auto sig = s.signature("r", "sha256:1", 500);
  EXPECT_TRUE(s.verify("r", "sha256:1", 500, sig, 400));
  EXPECT_FALSE(s.verify("r", "sha256:1", 500, sig, 501));
  EXPECT_FALSE(s.verify("other", "sha256:1", 500, sig, 400));
  EXPECT_FALSE(s.verify("r", "sha256:2", 500, sig, 400));
  EXPECT_FALSE(s.verify("r", "sha256:1", 600, sig, 400));
}
