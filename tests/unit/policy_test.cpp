// The IAM policy language: documents IAM refuses (with IAM's messages, in IAM's order), and a table
// of documents × requests → decisions for the evaluator.
#include <gtest/gtest.h>

#include "../../src/policy/condition_operators.hpp"
#include "berth/policy/policy_document.hpp"
#include "berth/policy/policy_evaluator.hpp"

namespace berth::policy {
namespace {

constexpr const char* account = "123456789012";
const std::string repo_app = "arn:aws:ecr:us-east-1:123456789012:repository/app";
const std::string repo_team_x = "arn:aws:ecr:us-east-1:123456789012:repository/team/x";
const std::string user_ci = "arn:aws:iam::123456789012:user/ci";
const std::string user_deploy = "arn:aws:iam::123456789012:user/deploy";

std::string error_of(const std::string& text, document_kind kind = document_kind::identity) {
  auto d = parse(text, kind);
  if (d) return "(accepted)";
  EXPECT_EQ(d.error_value().code, errc::malformed_policy_document);
  return d.error_value().message;
}

TEST(policy_parser, refuses_documents_with_iams_messages) {
  struct row {
    const char* text;
    const char* message;
  };
  const row rows[] = {
      {"", "Syntax errors in policy."},
      {"not json", "Syntax errors in policy."},
      {"[]", "Syntax errors in policy."},
      {R"({"Version":"2012-10-17"})", "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":[]})", "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"},"Extra":1})",
       "Syntax errors in policy."},
      {R"({"Version":"2013-01-01","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}})",
       "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Maybe","Action":"ecr:*","Resource":"*"}})",
       "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","NotAction":"ecr:x","Resource":"*"}})",
       "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}})",
       "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*","Foo":"x"}})",
       "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"StringEqualz":{"aws:username":"x"}}}})",
       "Syntax errors in policy."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"StringEquals":{"aws:username":{"a":1}}}}})",
       "Syntax errors in policy."},
      {R"({"Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}})",
       "Policy document must be version 2012-10-17 or greater."},
      {R"({"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}})",
       "Policy document must be version 2012-10-17 or greater."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"ecr:*","Resource":"*"}})",
       "The policy failed legacy parsing"},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*",
           "Condition":{"DateLessThan":{"aws:CurrentTime":"yesterday"}}}})",
       "The policy failed legacy parsing"},
      {R"({"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ecr:*","Resource":"*"},
           {"Sid":"a","Effect":"Deny","Action":"ecr:*","Resource":"*"}]})",
       "Statement IDs (SID) in a single policy must be unique."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}})",
       "Policy statement must contain actions."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}})",
       "Policy statement must contain actions."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}})",
       "Policy statement must contain resources."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}})",
       "Policy document should not specify a principal."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"app"}})",
       "Resource app must be in ARN format or \"*\"."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws-x:ecr:r:1:repository/a"}})",
       "Partition \"aws-x\" is not valid for resource \"arn:aws-x:ecr:r:1:repository/a\"."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:e*:r:1:repository/a"}})",
       "Resource vendor must be fully qualified and cannot contain regexes."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"PutImage","Resource":"*"}})",
       "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:Put:Image","Resource":"*"}})",
       "Actions/Condition can contain only one colon."},
      {R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"e c r:PutImage","Resource":"*"}})",
       "Vendor e c r is not valid"},
  };
  for (const auto& r : rows) EXPECT_EQ(error_of(r.text), r.message) << r.text;
}

TEST(policy_parser, resource_policies_need_a_principal_and_repository_policies_no_resource) {
  const char* no_principal = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}})";
  EXPECT_EQ(error_of(no_principal, document_kind::repository), "Missing required field Principal");
  const char* with_resource =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}})";
  EXPECT_NE(error_of(with_resource, document_kind::repository), "(accepted)");
  EXPECT_EQ(error_of(with_resource, document_kind::registry), "(accepted)");
  // ECR's console writes 2008-10-17 repository policies.
  const char* old = R"({"Version":"2008-10-17","Statement":[{"Sid":"pull","Effect":"Allow",
      "Principal":{"AWS":["arn:aws:iam::123456789012:user/deploy","123456789012"]},
      "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]})";
  auto d = parse(old, document_kind::repository);
  ASSERT_TRUE(d) << d.error_value().message;
  ASSERT_EQ(d->statements.size(), 1u);
  ASSERT_TRUE(d->statements[0].principal);
  EXPECT_EQ(d->statements[0].principal->aws.size(), 2u);
  EXPECT_FALSE(d->statements[0].has_resource);
  const char* bad_principal =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"someone","Action":"ecr:*"}})";
  EXPECT_EQ(error_of(bad_principal, document_kind::repository), "Syntax errors in policy.");
}

TEST(policy_parser, keeps_what_the_evaluator_reads) {
  auto d = parse(R"({"Version":"2012-10-17","Statement":{"Sid":"s","Effect":"Deny","NotAction":["ecr:Batch*"],
      "NotResource":"arn:aws:ecr:*:*:repository/keep-*",
      "Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*","b"]},"Bool":{"aws:SecureTransport":false},
                   "NumericLessThan":{"x:n":10}}}})",
                 document_kind::identity);
  ASSERT_TRUE(d) << d.error_value().message;
  const auto& s = d->statements.at(0);
  EXPECT_EQ(s.sid, "s");
  EXPECT_EQ(s.what, effect::deny);
  EXPECT_TRUE(s.not_action);
  EXPECT_TRUE(s.not_resource);
  ASSERT_EQ(s.conditions.size(), 3u);
  for (const auto& c : s.conditions) {
    if (c.key == "aws:TagKeys") {
      EXPECT_EQ(c.op, "StringLike");
      EXPECT_EQ(c.qualifier, set_qualifier::for_any_value);
      EXPECT_TRUE(c.if_exists);
      EXPECT_EQ(c.values, (std::vector<std::string>{"a*", "b"}));
    } else if (c.key == "aws:SecureTransport") {
      EXPECT_EQ(c.values, std::vector<std::string>{"false"});
    } else {
      EXPECT_EQ(c.values, std::vector<std::string>{"10"});
    }
  }
}

TEST(policy_parser, nesting_beyond_any_policy_is_a_syntax_error) {
  std::string deep(10000, '[');
  EXPECT_EQ(error_of(deep), "Syntax errors in policy.");
}

// --- evaluation -------------------------------------------------------------------------------

document identity(const std::string& statements) {
  auto d = parse(R"({"Version":"2012-10-17","Statement":)" + statements + "}", document_kind::identity);
  EXPECT_TRUE(d) << (d ? "" : d.error_value().message) << statements;
  return d ? *d : document{};
}

document resource_policy(const std::string& statements, document_kind kind = document_kind::repository) {
  auto d = parse(R"({"Version":"2012-10-17","Statement":)" + statements + "}", kind);
  EXPECT_TRUE(d) << (d ? "" : d.error_value().message) << statements;
  return d ? *d : document{};
}

request_context request(const std::string& action, const std::string& resource, const std::string& who = user_ci) {
  request_context rc;
  rc.action = action;
  rc.resource = resource;
  rc.principal_arn = who;
  rc.account = account;
  if (!who.empty()) {
    rc.set("aws:PrincipalArn", who);
    rc.set("aws:username", who.substr(who.rfind('/') + 1));
  }
  return rc;
}

constexpr decision allowed_by_identity{verdict::allow, policy_source::identity};
constexpr decision allowed_by_resource{verdict::allow, policy_source::resource};
constexpr decision denied_by_identity{verdict::explicit_deny, policy_source::identity};
constexpr decision denied_by_resource{verdict::explicit_deny, policy_source::resource};
constexpr decision not_allowed{verdict::implicit_deny, policy_source::none};

decision run(const std::vector<document>& ids, const std::vector<document>& res, const request_context& rc) {
  std::vector<const document*> a, b;
  for (const auto& d : ids) a.push_back(&d);
  for (const auto& d : res) b.push_back(&d);
  return evaluate(a, b, rc);
}

TEST(policy_evaluator, default_deny_and_actions_with_wildcards) {
  EXPECT_EQ(run({}, {}, request("ecr:PutImage", repo_app)), not_allowed);
  auto pull =
      identity(R"({"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"})");
  EXPECT_EQ(run({pull}, {}, request("ecr:BatchGetImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({pull}, {}, request("ecr:PutImage", repo_app)), not_allowed);
  // Action names compare case-insensitively; '*' and '?' are wildcards.
  auto wild = identity(R"({"Effect":"Allow","Action":["ECR:batch*","ecr:?utImage"],"Resource":"*"})");
  EXPECT_EQ(run({wild}, {}, request("ecr:BatchGetImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({wild}, {}, request("ecr:BatchDeleteImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({wild}, {}, request("ecr:PutImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({wild}, {}, request("ecr:InitiateLayerUpload", repo_app)), not_allowed);
  EXPECT_EQ(run({identity(R"({"Effect":"Allow","Action":"*","Resource":"*"})")}, {}, request("iam:CreateUser", "*")),
            allowed_by_identity);
}

TEST(policy_evaluator, not_action_and_not_resource) {
  auto all_but_delete = identity(R"({"Effect":"Allow","NotAction":"ecr:BatchDeleteImage","Resource":"*"})");
  EXPECT_EQ(run({all_but_delete}, {}, request("ecr:PutImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({all_but_delete}, {}, request("ecr:BatchDeleteImage", repo_app)), not_allowed);
  auto not_team = identity(R"({"Effect":"Allow","Action":"ecr:*","NotResource":"arn:aws:ecr:*:*:repository/team/*"})");
  EXPECT_EQ(run({not_team}, {}, request("ecr:PutImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({not_team}, {}, request("ecr:PutImage", repo_team_x)), not_allowed);
}

TEST(policy_evaluator, resources_are_case_sensitive_wildcards) {
  auto team = identity(
      R"({"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:123456789012:repository/team/*"})");
  EXPECT_EQ(run({team}, {}, request("ecr:PutImage", repo_team_x)), allowed_by_identity);
  EXPECT_EQ(run({team}, {}, request("ecr:PutImage", repo_app)), not_allowed);
  EXPECT_EQ(run({team}, {}, request("ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/TEAM/x")),
            not_allowed);
  auto one_char = identity(R"({"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/ap?"})");
  EXPECT_EQ(run({one_char}, {}, request("ecr:PutImage", repo_app)), allowed_by_identity);
  EXPECT_EQ(run({one_char}, {}, request("ecr:PutImage", repo_app + "s")), not_allowed);
}

TEST(policy_evaluator, an_explicit_deny_anywhere_wins) {
  auto allow_all = identity(R"({"Effect":"Allow","Action":"ecr:*","Resource":"*"})");
  auto deny_delete = identity(R"({"Effect":"Deny","Action":"ecr:BatchDeleteImage","Resource":"*"})");
  EXPECT_EQ(run({allow_all, deny_delete}, {}, request("ecr:BatchDeleteImage", repo_app)), denied_by_identity);
  EXPECT_EQ(run({deny_delete, allow_all}, {}, request("ecr:PutImage", repo_app)), allowed_by_identity);
  // A repository policy's Deny beats an identity Allow; the registry's likewise.
  auto repo_deny = resource_policy(R"({"Effect":"Deny","Principal":"*","Action":"ecr:PutImage"})");
  EXPECT_EQ(run({allow_all}, {repo_deny}, request("ecr:PutImage", repo_app)), denied_by_resource);
  auto registry_deny = resource_policy(
      R"({"Effect":"Deny","Principal":{"AWS":"123456789012"},"Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/team/*"})",
      document_kind::registry);
  EXPECT_EQ(run({allow_all}, {registry_deny}, request("ecr:PutImage", repo_team_x)), denied_by_resource);
  EXPECT_EQ(run({allow_all}, {registry_deny}, request("ecr:PutImage", repo_app)), allowed_by_identity);
  // Deny in a statement that does not apply (another action) does nothing.
  EXPECT_EQ(run({allow_all}, {repo_deny}, request("ecr:BatchGetImage", repo_app)), allowed_by_identity);
}

TEST(policy_evaluator, a_repository_policy_grants_the_principals_it_names) {
  auto grant_deploy = resource_policy(R"({"Effect":"Allow","Principal":{"AWS":")" + user_deploy +
                                      R"("},"Action":["ecr:BatchGetImage"]})");
  EXPECT_EQ(run({}, {grant_deploy}, request("ecr:BatchGetImage", repo_app, user_deploy)), allowed_by_resource);
  EXPECT_EQ(run({}, {grant_deploy}, request("ecr:BatchGetImage", repo_app, user_ci)), not_allowed);
  EXPECT_EQ(run({}, {grant_deploy}, request("ecr:PutImage", repo_app, user_deploy)), not_allowed);
  // Naming the account delegates to identity policies: it grants nobody by itself.
  auto account_only =
      resource_policy(R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"ecr:*"})");
  EXPECT_EQ(run({}, {account_only}, request("ecr:BatchGetImage", repo_app)), not_allowed);
  auto anyone = resource_policy(R"({"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"})");
  EXPECT_EQ(run({}, {anyone}, request("ecr:BatchGetImage", repo_app)), allowed_by_resource);
  EXPECT_EQ(run({}, {anyone}, request("ecr:BatchGetImage", repo_app, "")), allowed_by_resource);  // anonymous
  EXPECT_EQ(run({}, {grant_deploy}, request("ecr:BatchGetImage", repo_app, "")), not_allowed);
}

TEST(policy_evaluator, not_principal_denies_everyone_else) {
  auto only_ci =
      resource_policy(R"({"Effect":"Deny","NotPrincipal":{"AWS":")" + user_ci + R"("},"Action":"ecr:PutImage"})");
  auto allow_all = identity(R"({"Effect":"Allow","Action":"ecr:*","Resource":"*"})");
  EXPECT_EQ(run({allow_all}, {only_ci}, request("ecr:PutImage", repo_app, user_ci)), allowed_by_identity);
  EXPECT_EQ(run({allow_all}, {only_ci}, request("ecr:PutImage", repo_app, user_deploy)), denied_by_resource);
}

struct condition_case {
  const char* condition;  // the Condition element
  bool holds;
};

void expect_conditions(const request_context& rc, std::initializer_list<condition_case> cases) {
  for (const auto& c : cases) {
    auto doc =
        identity(std::string(R"({"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":)") + c.condition + "}");
    EXPECT_EQ(run({doc}, {}, rc).result == verdict::allow, c.holds) << c.condition;
  }
}

TEST(policy_evaluator, string_and_arn_conditions) {
  auto rc = request("ecr:PutImage", repo_app);
  expect_conditions(rc, {
                            {R"({"StringEquals":{"aws:username":"ci"}})", true},
                            {R"({"StringEquals":{"AWS:UserName":"ci"}})", true},  // key names: any case
                            {R"({"StringEquals":{"aws:username":"CI"}})", false},
                            {R"({"StringEquals":{"aws:username":["x","ci"]}})", true},      // values: OR
                            {R"({"StringNotEquals":{"aws:username":["x","ci"]}})", false},  // negations: NOR
                            {R"({"StringNotEquals":{"aws:username":["x","y"]}})", true},
                            {R"({"StringEqualsIgnoreCase":{"aws:username":"CI"}})", true},
                            {R"({"StringNotEqualsIgnoreCase":{"aws:username":"CI"}})", false},
                            {R"({"StringLike":{"aws:username":"c?"}})", true},
                            {R"({"StringLike":{"aws:username":"d*"}})", false},
                            {R"({"StringNotLike":{"aws:username":"d*"}})", true},
                            {R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/c*"}})", true},
                            {R"({"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user*"}})", true},
                            {R"({"ArnLike":{"aws:PrincipalArn":"arn:*"}})", false},  // no wildcard across ':'
                            {R"({"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/ci"}})", true},
                            {R"({"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/deploy"}})", true},
                            {R"({"StringEquals":{"aws:username":"ci"},"StringLike":{"aws:PrincipalArn":"*deploy"}})",
                             false},  // operators: AND
                        });
}

TEST(policy_evaluator, absent_keys_if_exists_and_null) {
  auto rc = request("ecr:PutImage", repo_app);
  expect_conditions(rc, {
                            {R"({"StringEquals":{"ecr:ResourceTag/team":"a"}})", false},
                            {R"({"StringNotEquals":{"ecr:ResourceTag/team":"a"}})", true},  // absent: negation holds
                            {R"({"StringEqualsIfExists":{"ecr:ResourceTag/team":"a"}})", true},
                            {R"({"Null":{"ecr:ResourceTag/team":"true"}})", true},
                            {R"({"Null":{"ecr:ResourceTag/team":"false"}})", false},
                            {R"({"Null":{"aws:username":"false"}})", true},
                        });
  rc.set("ecr:ResourceTag/team", "b");
  expect_conditions(rc, {
                            {R"({"StringEqualsIfExists":{"ecr:ResourceTag/team":"a"}})", false},
                            {R"({"StringEquals":{"ecr:resourcetag/TEAM":"b"}})", true},
                            {R"({"StringEquals":{"aws:ResourceTag/team":"b"}})", false},  // another key
                        });
}

TEST(policy_evaluator, set_qualifiers_on_multi_valued_keys) {
  auto rc = request("ecr:CreateRepository", repo_app);
  rc.set("aws:TagKeys", std::vector<std::string>{"team", "cost"});
  expect_conditions(rc, {
                            {R"({"ForAllValues:StringEquals":{"aws:TagKeys":["team","cost","env"]}})", true},
                            {R"({"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}})", false},
                            {R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}})", true},
                            {R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}})", false},
                            {R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":["env"]}})", true},
                            {R"({"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team"]}})", true},
                            {R"({"ForAllValues:StringLike":{"aws:TagKeys":["t*","c*"]}})", true},
                        });
  auto bare = request("ecr:CreateRepository", repo_app);  // no tags at all
  expect_conditions(bare, {
                              {R"({"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}})", true},
                              {R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}})", false},
                          });
}

TEST(policy_evaluator, ip_bool_numeric_and_date_conditions) {
  auto rc = request("ecr:PutImage", repo_app);
  rc.set("aws:SourceIp", "10.1.2.3");
  rc.set("aws:SecureTransport", "false");
  rc.set("aws:EpochTime", "1796000000");
  rc.set("aws:CurrentTime", "2026-12-01T10:00:00Z");
  expect_conditions(rc, {
                            {R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})", true},
                            {R"({"IpAddress":{"aws:SourceIp":["192.168.0.0/16","10.1.2.3"]}})", true},
                            {R"({"IpAddress":{"aws:SourceIp":"10.1.2.0/31"}})", false},
                            {R"({"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}})", false},
                            {R"({"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}})", true},
                            {R"({"IpAddress":{"aws:SourceIp":"::/0"}})", false},  // another family
                            {R"({"Bool":{"aws:SecureTransport":false}})", true},
                            {R"({"Bool":{"aws:SecureTransport":"true"}})", false},
                            {R"({"NumericGreaterThan":{"aws:EpochTime":"1700000000"}})", true},
                            {R"({"NumericLessThanEquals":{"aws:EpochTime":1796000000}})", true},
                            {R"({"NumericEquals":{"aws:EpochTime":"abc"}})", false},
                            {R"({"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}})", true},
                            {R"({"DateLessThan":{"aws:CurrentTime":"2026-12-01T11:00:00+02:00"}})", false},
                            {R"({"DateLessThan":{"aws:CurrentTime":"2026-12-01T10:00:01Z"}})", true},
                            {R"({"DateEquals":{"aws:EpochTime":"2026-11-30T00:53:20Z"}})", true},
                        });
  rc.set("aws:SourceIp", "2001:db8::1");
  expect_conditions(rc, {
                            {R"({"IpAddress":{"aws:SourceIp":"2001:db8::/32"}})", true},
                            {R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})", false},
                        });
  rc.set("aws:SourceIp", "::ffff:10.1.2.3");  // an IPv4 client on a dual-stack socket
  expect_conditions(rc, {{R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}})", true}});
}

TEST(policy_evaluator, policy_variables_in_resources_and_values) {
  auto own =
      identity(R"({"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/home/${aws:username}/*"})");
  EXPECT_EQ(run({own}, {}, request("ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/home/ci/app")),
            allowed_by_identity);
  EXPECT_EQ(run({own}, {}, request("ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/home/bob/app")),
            not_allowed);
  EXPECT_EQ(run({own}, {}, request("ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/home//app", "")),
            not_allowed);  // anonymous: no aws:username, the resource matches nothing
  auto fallback = identity(R"({"Effect":"Allow","Action":"ecr:*","Resource":"*",
      "Condition":{"StringEquals":{"ecr:ResourceTag/owner":"${aws:username}"},
                   "StringLike":{"x:literal":"${*}"}}})");
  auto rc = request("ecr:PutImage", repo_app);
  rc.set("ecr:ResourceTag/owner", "ci");
  rc.set("x:literal", "*");
  EXPECT_EQ(run({fallback}, {}, rc), allowed_by_identity);
  rc.set("x:literal", "anything");  // ${*} is a literal '*', not a wildcard
  EXPECT_EQ(run({fallback}, {}, rc), not_allowed);
}

TEST(policy_evaluator, times_parse_as_iam_reads_them) {
  EXPECT_EQ(parse_time("1970-01-01"), 0);
  EXPECT_EQ(parse_time("1970-01-02T00:00:00Z"), 86400);
  EXPECT_EQ(parse_time("2026-12-01T10:00:00.123Z"), parse_time("2026-12-01T10:00:00Z"));
  EXPECT_EQ(parse_time("2026-12-01T12:00:00+02:00"), parse_time("2026-12-01T10:00:00Z"));
  EXPECT_EQ(parse_time("1796000000"), 1796000000);
  EXPECT_FALSE(parse_time("2026-13-01"));
  EXPECT_FALSE(parse_time("2026-12-01T25:00:00Z"));
  EXPECT_FALSE(parse_time("2026-12-01Tjunk"));
  EXPECT_FALSE(parse_time("-5"));
}

}  // namespace
}  // namespace berth::policy
