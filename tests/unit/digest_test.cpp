#include "berth/core/digest.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace berth;

TEST(digest, parses_sha256_and_sha512) {
  auto d = digest::parse("sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->algorithm(), digest_algorithm::sha256);
  EXPECT_EQ(d->str(), "sha256:" + std::string(64, 'a'));
  auto e = digest::parse("sha512:" + std::string(128, '0'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->algorithm(), digest_algorithm::sha512);
}

TEST(digest, rejects_malformed) {
  for (const std::string& bad : std::vector<std::string>{
           "", "sha256", "sha256:", ":abc", "sha256:" + std::string(63, 'a'), "sha256:" + std::string(65, 'a'),
           "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, 'a') + "g",
           "md5:d41d8cd98f00b204e9800998ecf8427e", "sha512:" + std::string(64, 'a'), "sha256:totallywrong",
           "SHA256:" + std::string(64, 'a')}) {
    auto d = digest::parse(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error_value().code, errc::digest_invalid);
    }
  }
}

TEST(hasher, known_vectors) {
  EXPECT_EQ(digest_of("").str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest_of("abc").str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_of("abc", digest_algorithm::sha512).str(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
            "454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(hasher, incremental_equals_whole_and_peek_does_not_finish) {
  hasher h;
  h.update("a", 1);
  auto partial = h.peek();
  EXPECT_EQ(partial, digest_of("a"));
  h.update("bc", 2);
  EXPECT_EQ(h.peek(), digest_of("abc"));
  hasher copy(h);
  copy.update("d", 1);
  EXPECT_EQ(copy.peek(), digest_of("abcd"));
  EXPECT_EQ(h.peek(), digest_of("abc"));
}

// The running state goes to bytes and back (as an upload checkpoint does) at every length around the
// block boundaries, and hashing continues exactly where it stopped.
TEST(hasher, exported_state_continues_where_it_stopped) {
  std::string data(300, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  for (auto alg : {digest_algorithm::sha256, digest_algorithm::sha512}) {
    for (std::size_t cut : {0, 1, 55, 63, 64, 65, 111, 127, 128, 129, 200, 300}) {
      hasher h(alg);
      h.update(data.data(), cut);
      auto state = h.export_state();
      auto resumed = hasher::import_state(state);
      ASSERT_TRUE(resumed) << cut;
      EXPECT_EQ(resumed->algorithm(), alg);
      EXPECT_EQ(resumed->bytes_hashed(), cut);
      EXPECT_EQ(resumed->export_state(), state);
      resumed->update(data.data() + cut, data.size() - cut);
      EXPECT_EQ(resumed->peek(), digest_of(data, alg)) << cut;
    }
  }
}

TEST(hasher, a_state_that_is_not_one_is_refused) {
  hasher h;
  h.update("abc", 3);
  auto state = h.export_state();
  EXPECT_FALSE(hasher::import_state(""));
  EXPECT_FALSE(hasher::import_state(state.substr(0, state.size() - 1)));  // the partial block cut short
  EXPECT_FALSE(hasher::import_state(state + "x"));                        // trailing bytes
  auto wrong_format = state;
  wrong_format[0] = 9;
  EXPECT_FALSE(hasher::import_state(wrong_format));
  auto wrong_kind = state;
  wrong_kind[1] = 3;
  EXPECT_FALSE(hasher::import_state(wrong_kind));
}
