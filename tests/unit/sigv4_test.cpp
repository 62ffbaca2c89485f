#include "berth/auth/sigv4.hpp"
#include "berth/auth/sigv4_signer.hpp"

#include <gtest/gtest.h>

using namespace berth;
using namespace berth::auth;

namespace {

const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const credential_store store("000000000000", {credential{"root", "AKIDEXAMPLE", secret, true}});

// The signed request botocore produces for an ECR call (verified against botocore's SigV4Auth).
signable_request ecr_request() {
  signable_request r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"Host", "127.0.0.1:5000"},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"},
               {"X-Amz-Date", "20261123T002451Z"},
               {"Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/ecr/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                "Signature=2f3d574c0b004f6deda9e314a179cd805046cc307e9d8153565c3b12f97a7226"}};
  r.payload_hash = sha256_hex(R"({"repositoryNames": ["foo"]})");
  return r;
}

const std::int64_t signed_at = 1795393491;  // 2026-11-23T00:24:51Z

}  // namespace

TEST(sigv4, aws_documentation_example) {
  // GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08, 20150830T123600Z.
  signable_request r;
  r.method = "GET";
  r.path = "/";
  r.query = "Action=ListUsers&Version=2010-05-08";
  r.headers = {{"Host", "iam.amazonaws.com"},
               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"X-Amz-Date", "20150830T123600Z"}};
  r.payload_hash = sha256_hex("");
  auto canonical = canonical_request(r, {"content-type", "host", "x-amz-date"});
  EXPECT_EQ(sha256_hex(canonical), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  auto sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical);
  auto key = signing_key(secret, "20150830", "us-east-1", "iam");
  EXPECT_EQ(hmac_sha256_hex(key, sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(sigv4, canonical_forms) {
  EXPECT_EQ(canonical_uri("/"), "/");
  EXPECT_EQ(canonical_uri(""), "/");
  EXPECT_EQ(canonical_uri("/a/./b/../c"), "/a/c");
  EXPECT_EQ(canonical_uri("/a%20b"), "/a%2520b");  // double-encoded, as for every service but S3
  EXPECT_EQ(canonical_query("b=2&a=1&a=0&X-Amz-Signature=x", true), "a=0&a=1&b=2");
  EXPECT_EQ(canonical_query("k=a%2Fb+c", true), "k=a%2Fb%2Bc");
}

TEST(sigv4, verifies_a_botocore_signature) {
  sigv4_verifier v(store, "us-east-1", "ecr");
  auto who = v.verify(ecr_request(), signed_at + 60);
  ASSERT_TRUE(who) << who.error_value().message;
  EXPECT_EQ(who->arn, "arn:aws:iam::000000000000:root");
}

TEST(sigv4, rejections_with_aws_wording) {
  sigv4_verifier v(store, "us-east-1", "ecr");
  auto tampered = ecr_request();
  tampered.payload_hash = sha256_hex(R"({"repositoryNames": ["bar"]})");
  auto bad = v.verify(tampered, signed_at);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error_value().code, errc::invalid_signature);
  EXPECT_TRUE(bad.error_value().message.starts_with("The request signature we calculated does not match"));

  auto late = v.verify(ecr_request(), signed_at + 16 * 60);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error_value().message,
            "Signature expired: 20261123T002451Z is now earlier than 20261123T002551Z (20261123T004051Z - 15 min.)");
  auto early = v.verify(ecr_request(), signed_at - 16 * 60);
  ASSERT_FALSE(early);
  EXPECT_TRUE(early.error_value().message.starts_with("Signature not yet current"));

  sigv4_verifier other_region(store, "eu-west-1", "ecr");
  EXPECT_EQ(other_region.verify(ecr_request(), signed_at).error_value().code, errc::invalid_signature);

  const credential_store empty("000000000000", {});
  sigv4_verifier unknown(empty, "us-east-1", "ecr");
  auto u = unknown.verify(ecr_request(), signed_at);
  EXPECT_EQ(u.error_value().code, errc::unrecognized_client);
  EXPECT_EQ(u.error_value().message, "The security token included in the request is invalid.");

  auto none = ecr_request();
  none.headers.pop_back();
  EXPECT_EQ(v.verify(none, signed_at).error_value().code, errc::missing_authentication);
}

TEST(sigv4, authorization_header_parsing) {
  auto h = parse_authorization_header(
      "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/ecr/aws4_request,SignedHeaders=Host;X-Amz-Date,Signature=ab");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->access_key_id, "AK");
  EXPECT_EQ(h->service, "ecr");
  EXPECT_EQ(h->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
  for (auto bad :
       {"", "Basic abc", "AWS4-HMAC-SHA256 Credential=AK/2015/us-east-1/ecr", "AWS4-HMAC-SHA256 Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/ecr/aws4_request, SignedHeaders=host"}) {
    EXPECT_FALSE(parse_authorization_header(bad)) << bad;
  }
  EXPECT_EQ(parse_amz_date("20150830T123600Z").value(), 1440938160);
  EXPECT_FALSE(parse_amz_date("2015-08-30T12:36:00Z"));
  EXPECT_EQ(format_amz_date(1440938160), "20150830T123600Z");
}

// The signer, against the worked examples of the S3 documentation ("Signature Calculations for the
// Authorization Header" GET Object, and "Query String Authentication"): the same credentials, time
// and request give the published signatures.
namespace {
const berth::auth::aws_credentials s3_doc_credentials{"AKIAIOSFODNN7EXAMPLE",
                                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
}

TEST(sigv4_signer, s3_documentation_get_object_example) {
  berth::auth::sigv4_signer signer(s3_doc_credentials, "us-east-1", "s3");
  std::vector<std::pair<std::string, std::string>> headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                                                              {"Range", "bytes=0-9"}};
  signer.sign("GET", "/test.txt", "", headers, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
              *parse_amz_date("20130524T000000Z"));
  ASSERT_EQ(headers.back().first, "Authorization");
  EXPECT_EQ(headers.back().second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(sigv4_signer, s3_documentation_presigned_url_example) {
  berth::auth::sigv4_signer signer(s3_doc_credentials, "us-east-1", "s3");
  auto q = signer.presign_query("GET", "/test.txt", "", "examplebucket.s3.amazonaws.com", 86400,
                                *parse_amz_date("20130524T000000Z"));
  EXPECT_EQ(q,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
            "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}
