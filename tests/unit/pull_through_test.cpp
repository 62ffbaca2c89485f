// Pull-through cache rules (validation, which rule covers a repository, the credentials' secret),
// the secrets they read, and what the HTTP upstream parses from an upstream's answers.
#include <gtest/gtest.h>

#include "../common/registry_fixture.hpp"
#include "berth/registry/pull_through_rules.hpp"
#include "berth/registry/secret_vault.hpp"
#include "berth/upstream/http_upstream.hpp"

using namespace berth;

namespace {

class pull_through_test : public testing_support::registry_fixture {
 protected:
  auth::secret_sealer sealer{std::string(32, 'k')};
  std::unique_ptr<secret_vault> vault;
  std::unique_ptr<pull_through_rules> rules;

  void SetUp() override {
    registry_fixture::SetUp();
    vault = std::make_unique<secret_vault>(backends(), sealer, clk, "000000000000", "us-east-1");
    rules = std::make_unique<pull_through_rules>(backends(), *vault, clk);
  }

  std::string secret(const std::string& name, const std::string& value) {
    new_secret s;
    s.name = name;
    s.value = secret_value{false, value};
    s.client_request_token = "00000000-0000-4000-8000-0000000000" + std::to_string(10 + ++tokens);
    return vault->create(s).value().arn;
  }

  pull_through_rule rule(const std::string& prefix, const std::string& url, const std::string& arn = "") {
    pull_through_rule r;
    r.prefix = prefix;
    r.upstream_url = url;
    r.credential_arn = arn;
    return r;
  }
  int tokens = 0;
};

}  // namespace

TEST_F(pull_through_test, the_longest_prefix_covers_and_root_comes_last) {
  ASSERT_TRUE(rules->create(rule("ROOT", "mirror.example:5000")));
  ASSERT_TRUE(rules->create(rule("hub/", "127.0.0.1:5001")));  // the trailing '/' is assumed anyway
  auto with_upstream_prefix = rule("hub/lib", "127.0.0.1:5002");
  with_upstream_prefix.upstream_prefix = "library";
  ASSERT_TRUE(rules->create(with_upstream_prefix));
  auto t = rules->covering("hub/lib/alpine").value();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->rule.upstream_url, "127.0.0.1:5002");
  EXPECT_EQ(t->repository, "library/alpine");
  t = rules->covering("hub/team/app").value();
  EXPECT_EQ(t->rule.prefix, "hub");
  EXPECT_EQ(t->repository, "team/app");
  t = rules->covering("hubby/app").value();  // a prefix is a path component, not a string prefix
  EXPECT_EQ(t->rule.prefix, "ROOT");
  EXPECT_EQ(t->repository, "hubby/app");
  EXPECT_EQ(rules->covering("hub").value()->rule.prefix, "ROOT");
  EXPECT_EQ(rules->find("hub/").value().prefix, "hub");
  EXPECT_EQ(rules->create(rule("hub", "x.example")).error_value().code, errc::pull_through_rule_already_exists);
  ASSERT_TRUE(rules->remove("ROOT"));
  EXPECT_FALSE(rules->covering("other/app").value());
}

TEST_F(pull_through_test, rules_are_refused_as_ecr_refuses_them) {
  EXPECT_EQ(rules->create(rule("hub", "https://127.0.0.1:5001")).error_value().code,
            errc::unsupported_upstream_registry);
  EXPECT_EQ(rules->create(rule("hub", "127.0.0.1:99999")).error_value().code, errc::unsupported_upstream_registry);
  EXPECT_EQ(rules->create(rule("hub", "registry-1.docker.io")).error_value().message,
            "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN and try "
            "again.");
  auto quay = rule("q", "quay.io");
  quay.upstream_registry = "docker-hub";
  EXPECT_EQ(rules->create(quay).error_value().code, errc::unsupported_upstream_registry);
  auto root = rule("ROOT", "127.0.0.1:5001");
  root.upstream_prefix = "library";
  EXPECT_EQ(rules->create(root).error_value().code, errc::invalid_parameter);
  EXPECT_EQ(rules
                ->create(rule("hub", "127.0.0.1:5001",
                              "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/none-AbCdEf"))
                .error_value()
                .code,
            errc::secret_not_found);
  auto not_json = secret("ecr-pullthroughcache/bad", "user:pass");
  EXPECT_EQ(rules->create(rule("hub", "127.0.0.1:5001", not_json)).error_value().code, errc::unable_to_access_secret);
  auto good = secret("ecr-pullthroughcache/good", R"({"username":"u","accessToken":"t"})");
  auto made = rules->create(rule("hub", "registry-1.docker.io", good));
  ASSERT_TRUE(made);
  EXPECT_EQ(made->upstream_registry, "docker-hub");  // inferred from the URL, as ECR does
  EXPECT_EQ(made->upstream_prefix, "ROOT");
  auto creds = rules->credentials(*made).value();
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->username, "u");
  EXPECT_EQ(creds->access_token, "t");
  EXPECT_EQ(rules->update("hub", "", "").error_value().code, errc::invalid_parameter);
  EXPECT_EQ(rules->update("nope", good, "").error_value().code, errc::pull_through_rule_not_found);
  ASSERT_TRUE(vault->remove(good, 7, false));
  EXPECT_EQ(rules->credentials(*made).error_value().code, errc::unable_to_access_secret);  // scheduled for deletion
}

TEST_F(pull_through_test, secret_labels_move_with_each_value) {
  auto arn = secret("s", "one");
  auto two = vault->put_value("s", "11111111-1111-4111-8111-111111111111", secret_value{false, "two"}, {});
  ASSERT_TRUE(two);
  EXPECT_EQ(vault->value("s", "", "").value().value.bytes, "two");
  EXPECT_EQ(vault->value(arn, "", "AWSPREVIOUS").value().value.bytes, "one");
  EXPECT_EQ(vault->value("arn:aws:secretsmanager:us-east-1:000000000000:secret:s", "", "").value().value.bytes,
            "two");  // a partial ARN
  // The same token again: the same version; with another value: refused.
  EXPECT_EQ(
      vault->put_value("s", "11111111-1111-4111-8111-111111111111", secret_value{false, "two"}, {}).value().version_id,
      two->version_id);
  EXPECT_EQ(
      vault->put_value("s", "11111111-1111-4111-8111-111111111111", secret_value{false, "2"}, {}).error_value().code,
      errc::secret_already_exists);
  // A value copied onto another secret's row does not open: values are bound to ARN and version.
  auto other = secret("t", "three");
  auto& v = meta->vault();
  auto s_versions = v.versions("s").value();
  auto t_row = v.find("t").value().value();
  meta::vault_version_change swap;
  swap.relabelled = {};
  swap.added = meta::vault_version_row{"22222222-2222-4222-8222-222222222222", s_versions.back().sealed_value,
                                       R"(["AWSCURRENT"])", 0};
  ASSERT_TRUE(v.change_versions("t", t_row.revision, swap, 0));
  EXPECT_EQ(vault->value(other, "22222222-2222-4222-8222-222222222222", "").error_value().code,
            errc::unable_to_decrypt_secret);
}

TEST(upstream_parsing, challenges_and_urls) {
  auto c = upstream::parse_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c.params["service"], "registry.docker.io");
  EXPECT_EQ(c.params["scope"], "repository:samalba/my-app:pull,push");  // a comma inside quotes
  c = upstream::parse_challenge(R"(Basic realm="Registry \"Realm\"", charset=UTF-8)");
  EXPECT_EQ(c.scheme, "basic");
  EXPECT_EQ(c.params["realm"], "Registry \"Realm\"");
  EXPECT_EQ(c.params["charset"], "UTF-8");
  EXPECT_EQ(upstream::parse_challenge("").scheme, "");

  auto u = upstream::split_url("https://cdn.example:8443/blobs/x?sig=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->origin, "https://cdn.example:8443");
  EXPECT_EQ(u->target, "/blobs/x?sig=1");
  EXPECT_EQ(upstream::split_url("http://h?x=1")->target, "/?x=1");
  EXPECT_EQ(upstream::split_url("http://h")->target, "/");
  EXPECT_FALSE(upstream::split_url("ftp://h/x"));
  EXPECT_FALSE(upstream::split_url("/relative"));
  EXPECT_FALSE(upstream::split_url("https://user@h/x"));
}
