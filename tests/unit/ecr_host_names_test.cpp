#include "berth/core/ecr_host_names.hpp"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(ecr_host_names, lists_the_registry_host_first_then_the_api_endpoints) {
  EXPECT_EQ(ecr_registry_host("123456789012", "eu-west-1"), "123456789012.dkr.ecr.eu-west-1.amazonaws.com");
  std::vector<std::string> expected{"123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                                    "api.ecr.eu-west-1.amazonaws.com",
                                    "ecr.eu-west-1.amazonaws.com",
                                    "sts.eu-west-1.amazonaws.com",
                                    "sts.amazonaws.com",
                                    "iam.amazonaws.com",
                                    "secretsmanager.eu-west-1.amazonaws.com"};
  EXPECT_EQ(ecr_host_names("123456789012", "eu-west-1"), expected);
}

TEST(ecr_host_names, parses_a_registry_host_as_a_host_header_carries_it) {
  for (const char* h :
       {"123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
        "123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "123456789012.dkr.ecr.us-east-1.amazonaws.com."}) {
    auto r = parse_registry_host(h);
    ASSERT_TRUE(r) << h;
    EXPECT_EQ(r->account, "123456789012");
    EXPECT_EQ(r->region, "us-east-1");
  }
}

TEST(ecr_host_names, other_names_are_not_registry_hosts) {
  for (const char* h :
       {"", "localhost", "127.0.0.1:5000", "[::1]:443", "api.ecr.us-east-1.amazonaws.com",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com", "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
        "12345678901x.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr..amazonaws.com",
        "123456789012.dkr.ecr.us_east_1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn",
        "123456789012.dkr.ecr.us-east-1.example.com", "x.123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.-x.amazonaws.com", ".dkr.ecr.us-east-1.amazonaws.com"}) {
    EXPECT_FALSE(parse_registry_host(h)) << h;
  }
}

}  // namespace
}  // namespace berth
