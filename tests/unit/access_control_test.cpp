// Authorization in the domain: sealed secrets, callers found by key (and lost with it), identity,
// repository and registry policies evaluated per access generation; and the IAM/STS Query adapter
// driven without sockets, SigV4-signed as aws-cli signs it.
#include "berth/registry/access_control.hpp"

#include <gtest/gtest.h>

#include "../common/registry_fixture.hpp"
#include "berth/auth/sigv4.hpp"
#include "berth/auth/sigv4_signer.hpp"
#include "berth/iam/form_body.hpp"
#include "berth/iam/query_api.hpp"
#include "berth/registry/identity_directory.hpp"
#include "berth/registry/resource_policies.hpp"

using namespace berth;

namespace {

TEST(secret_sealer_test, seals_bound_to_the_key_id_and_detects_tampering) {
  auth::secret_sealer s(std::string(32, 'k'));
  auto sealed = s.seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIA1");
  EXPECT_TRUE(sealed.starts_with("v1."));
  EXPECT_EQ(sealed.find("wJalr"), std::string::npos);
  EXPECT_NE(s.seal("same", "AKIA1"), s.seal("same", "AKIA1"));  // a fresh nonce each time
  EXPECT_EQ(s.open(sealed, "AKIA1").value(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  EXPECT_FALSE(s.open(sealed, "AKIA2"));  // copied onto another key's row
  auto tampered = sealed;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s.open(tampered, "AKIA1"));
  EXPECT_FALSE(auth::secret_sealer(std::string(32, 'x')).open(sealed, "AKIA1"));
  EXPECT_FALSE(s.open("v1.", "AKIA1"));
  EXPECT_FALSE(s.open("plain", "AKIA1"));
}

TEST(form_body_test, decodes_pairs_and_bounds_their_number) {
  auto f = iam::parse_form("Action=CreateUser&UserName=bo+b%2Bx&&Path=%2Feng%2F&Empty=&Flag").value();
  EXPECT_EQ(f["UserName"], "bo b+x");
  EXPECT_EQ(f["Path"], "/eng/");
  EXPECT_EQ(f["Empty"], "");
  EXPECT_EQ(f.count("Flag"), 1u);
  std::string many;
  for (int i = 0; i <= 1000; ++i) many += "a" + std::to_string(i) + "=1&";
  EXPECT_EQ(iam::parse_form(many).error_value().code, errc::malformed_request);
}

class access_control_test : public testing_support::registry_fixture {
 protected:
  void SetUp() override {
    registry_fixture::SetUp();
    directory = std::make_unique<identity_directory>(backends(), sealer, clk, "000000000000");
    access = std::make_unique<access_control>(backends(), configured, sealer, access_settings{});
    policies = std::make_unique<resource_policies>(backends(), clk, "000000000000");
  }

  auth::identity user_with_key(const std::string& name) {
    EXPECT_TRUE(directory->create_user(name, "/"));
    auto k = directory->create_access_key(name);
    EXPECT_TRUE(k);
    keys[name] = *k;
    auto who = access->identity_for(k->access_key_id);
    EXPECT_TRUE(who);
    return who.value_or(auth::identity{});
  }
  void allow(const std::string& user, const std::string& statements) {
    ASSERT_TRUE(directory->put_policy(policy_owner::user, user, "p",
                                      R"({"Version":"2012-10-17","Statement":[)" + statements + "]}"))
        << statements;
  }
  result<void> may(const auth::identity& who, const std::string& action, const std::string& repo) {
    access_request r;
    r.action = action;
    r.repository = repo;
    r.source_ip = "10.0.0.7";
    return access->authorize(who, r);
  }

  auth::credential_store configured{"000000000000", {auth::credential{"root", "AKROOT", "rootsecret", true}}};
  auth::secret_sealer sealer{std::string(32, 's')};
  std::unique_ptr<identity_directory> directory;
  std::unique_ptr<access_control> access;
  std::unique_ptr<resource_policies> policies;
  std::map<std::string, access_key_info> keys;
};

TEST_F(access_control_test, a_key_finds_its_user_until_it_is_deactivated_or_deleted) {
  auto ci = user_with_key("ci");
  EXPECT_EQ(ci.arn, "arn:aws:iam::000000000000:user/ci");
  EXPECT_EQ(ci.user_id.size(), 21u);
  EXPECT_TRUE(ci.user_id.starts_with("AIDA"));
  EXPECT_FALSE(ci.full_access);
  const auto& k = keys["ci"];
  EXPECT_TRUE(k.access_key_id.starts_with("AKIA"));
  EXPECT_EQ(k.access_key_id.size(), 20u);
  EXPECT_EQ(k.secret_access_key.size(), 40u);
  EXPECT_EQ(access->find(k.access_key_id)->secret_access_key, k.secret_access_key);
  EXPECT_TRUE(directory->access_keys("ci").value()[0].secret_access_key.empty());  // never readable again
  ASSERT_TRUE(directory->update_access_key("ci", k.access_key_id, "Inactive"));
  EXPECT_FALSE(access->find(k.access_key_id));  // on the next lookup: no restart, no stale cache
  ASSERT_TRUE(directory->update_access_key("ci", k.access_key_id, "Active"));
  EXPECT_TRUE(access->find(k.access_key_id));
  EXPECT_EQ(directory->update_access_key("ci", k.access_key_id, "Expired").error_value().code, errc::invalid_parameter);
  ASSERT_TRUE(directory->delete_access_key("ci", k.access_key_id));
  EXPECT_FALSE(access->find(k.access_key_id));
  EXPECT_TRUE(access->find("AKROOT")->who.full_access);
  EXPECT_FALSE(access->find("AKNOBODY"));
}

TEST_F(access_control_test, identity_policies_grant_and_deny_with_aws_messages) {
  auto ci = user_with_key("ci");
  auto denied = may(ci, "ecr:PutImage", "app");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error_value().code, errc::denied);
  EXPECT_EQ(denied.error_value().message,
            "User: arn:aws:iam::000000000000:user/ci is not authorized to perform: ecr:PutImage on resource: "
            "arn:aws:ecr:us-east-1:000000000000:repository/app because no identity-based policy allows the "
            "ecr:PutImage action");
  allow("ci",
        R"({"Effect":"Allow","Action":["ecr:PutImage","ecr:Initiate*"],"Resource":"arn:aws:ecr:*:*:repository/app*"},
                 {"Effect":"Deny","Action":"ecr:PutImage","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
                 {"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"})");
  EXPECT_EQ(may(ci, "ecr:PutImage", "app").error_value().message,
            "User: arn:aws:iam::000000000000:user/ci is not authorized to perform: ecr:PutImage on resource: "
            "arn:aws:ecr:us-east-1:000000000000:repository/app with an explicit deny in an identity-based policy");
  EXPECT_TRUE(may(ci, "ecr:InitiateLayerUpload", "app2"));
  EXPECT_FALSE(may(ci, "ecr:InitiateLayerUpload", "other"));
  EXPECT_TRUE(may(ci, "ecr:GetAuthorizationToken", ""));
  // The same answer whether or not the repository exists.
  EXPECT_EQ(may(ci, "ecr:BatchGetImage", "ghost").error_value().message.find("ghost") != std::string::npos, true);
  auth::identity root = *access->identity_for("AKROOT");
  EXPECT_TRUE(may(root, "ecr:DeleteRepository", "anything"));
}

TEST_F(access_control_test, repository_and_registry_policies_and_resource_tags) {
  auto third = user_with_key("third");
  ASSERT_TRUE(repos->create("shared", {}, {{"team", "blue"}}));
  EXPECT_FALSE(may(third, "ecr:BatchGetImage", "shared"));
  ASSERT_TRUE(policies->set_repository_policy("shared", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::000000000000:user/third"},"Action":["ecr:BatchGetImage","ecr:GetAuthorizationToken"]}]})"));
  EXPECT_TRUE(may(third, "ecr:BatchGetImage", "shared"));           // visible on the next request
  EXPECT_FALSE(may(third, "ecr:GetAuthorizationToken", "shared"));  // only an identity policy grants it
  EXPECT_FALSE(may(third, "ecr:BatchGetImage", "elsewhere"));
  // The registry policy's Deny applies to every ECR action.
  ASSERT_TRUE(policies->put_registry_policy(R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
      "Action":"ecr:*","Resource":"*","Condition":{"StringEquals":{"ecr:ResourceTag/team":"blue"}}}]})"));
  EXPECT_EQ(may(third, "ecr:BatchGetImage", "shared").error_value().message,
            "User: arn:aws:iam::000000000000:user/third is not authorized to perform: ecr:BatchGetImage on resource: "
            "arn:aws:ecr:us-east-1:000000000000:repository/shared with an explicit deny in a resource-based policy");
  ASSERT_TRUE(repos->untag("shared", {"team"}));
  EXPECT_TRUE(may(third, "ecr:BatchGetImage", "shared"));  // tags are read again after a change
  ASSERT_TRUE(policies->delete_registry_policy());
  EXPECT_EQ(policies->registry_policy().error_value().code, errc::registry_policy_not_found);

  // Validation as ECR words it.
  auto no_principal = policies->set_repository_policy(
      "shared", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]})");
  EXPECT_EQ(no_principal.error_value().message,
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'");
  auto ghost = policies->set_repository_policy("shared", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::000000000000:user/ghost"},"Action":"ecr:*"}]})");
  EXPECT_EQ(ghost.error_value().message,
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'");
  EXPECT_EQ(policies
                ->set_repository_policy("nope", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":"*","Action":"ecr:*"}]})")
                .error_value()
                .code,
            errc::name_unknown);
}

TEST_F(access_control_test, a_policy_names_the_user_who_existed_when_it_was_stored) {
  auto gone = user_with_key("gone");
  ASSERT_TRUE(repos->create("kept", {}, {}));
  ASSERT_TRUE(policies->set_repository_policy("kept", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::000000000000:user/gone"},"Action":"ecr:ListImages"}]})"));
  EXPECT_TRUE(may(gone, "ecr:ListImages", "kept"));
  ASSERT_TRUE(directory->delete_access_key("gone", keys["gone"].access_key_id));
  ASSERT_TRUE(directory->delete_user("gone"));
  auto again = user_with_key("gone");  // same name, another user
  EXPECT_FALSE(may(again, "ecr:ListImages", "kept"));
  // Stored again now, the policy names the user who exists now.
  ASSERT_TRUE(policies->set_repository_policy("kept", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::000000000000:user/gone"},"Action":"ecr:ListImages"}]})"));
  EXPECT_TRUE(may(again, "ecr:ListImages", "kept"));
  // A path is part of the name: user/team/pathy is not user/pathy.
  ASSERT_TRUE(directory->create_user("pathy", "/team/"));
  EXPECT_EQ(policies
                ->set_repository_policy("kept", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::000000000000:user/pathy"},"Action":"ecr:ListImages"}]})")
                .error_value()
                .message,
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'");
  EXPECT_TRUE(policies->set_repository_policy("kept", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::000000000000:user/team/pathy"},"Action":"ecr:ListImages"}]})"));
}

TEST_F(access_control_test, anonymous_pull_needs_principal_star_and_exclusions_are_cached_per_generation) {
  ASSERT_TRUE(repos->create("public", {}, {}));
  EXPECT_FALSE(access->allows_anonymous("ecr:BatchGetImage", "public"));
  ASSERT_TRUE(policies->set_repository_policy("public", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]})"));
  EXPECT_TRUE(access->allows_anonymous("ecr:BatchGetImage", "public"));
  EXPECT_FALSE(access->allows_anonymous("ecr:PutImage", "public"));
  EXPECT_FALSE(access->allows_anonymous("ecr:BatchGetImage", "private"));

  auto ci = user_with_key("ci");
  EXPECT_FALSE(access->pull_time_excluded(ci));
  ASSERT_TRUE(directory->add_pull_exclusion(ci.arn));
  EXPECT_TRUE(access->pull_time_excluded(ci));
  EXPECT_EQ(directory->add_pull_exclusion(ci.arn).error_value().code, errc::exclusion_already_exists);
  EXPECT_EQ(directory->add_pull_exclusion("arn:aws:iam::000000000000:root").error_value().code,
            errc::invalid_parameter);
  ASSERT_TRUE(directory->remove_pull_exclusion(ci.arn));
  EXPECT_FALSE(access->pull_time_excluded(ci));
  EXPECT_EQ(directory->remove_pull_exclusion(ci.arn).error_value().code, errc::exclusion_not_found);
}

class query_api_test : public access_control_test {
 protected:
  void SetUp() override {
    access_control_test::SetUp();
    api = std::make_unique<iam::query_api>(*directory, *access, *access, clk, iam::query_settings{});
  }
  // Signed as aws-cli signs it: content-type;host;x-amz-date, the body's hash.
  http::response call(const std::string& body, const std::string& key = "AKROOT",
                      const std::string& secret = "rootsecret", const std::string& service = "iam") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", "127.0.0.1:5000"}, {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    auth::sigv4_signer(auth::aws_credentials{key, secret}, "eu-west-1", service)
        .sign("POST", "/", "", headers, auth::sha256_hex(body), clk.now_seconds());
    http::request req;
    req.method = http::verb::post;
    req.path = "/";
    for (auto& [k, v] : headers) req.headers.add(k, v);
    req.body = body;
    return api->handle(req);
  }
  std::unique_ptr<iam::query_api> api;
};

TEST_F(query_api_test, iam_operations_answer_in_xml_with_aws_errors) {
  auto r = call("Action=CreateUser&Version=2010-05-08&UserName=deploy&Path=%2Fci%2F");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers.find("Content-Type").value_or(""), "text/xml");
  EXPECT_TRUE(
      r.body.starts_with("<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                         "<CreateUserResult><User><Path>/ci/</Path><UserName>deploy</UserName>"))
      << r.body;
  EXPECT_NE(r.body.find("<Arn>arn:aws:iam::000000000000:user/ci/deploy</Arn>"), std::string::npos);
  EXPECT_NE(r.body.find("<ResponseMetadata><RequestId>"), std::string::npos);

  r = call("Action=CreateUser&Version=2010-05-08&UserName=DEPLOY");
  EXPECT_EQ(r.status, 409u);
  EXPECT_NE(r.body.find("<Type>Sender</Type><Code>EntityAlreadyExists</Code>"
                        "<Message>User with name DEPLOY already exists.</Message>"),
            std::string::npos)
      << r.body;
  r = call("Action=GetUser&Version=2010-05-08&UserName=nobody");
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body.find("<Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message>"),
            std::string::npos);
  r = call("Action=PutUserPolicy&Version=2010-05-08&UserName=deploy&PolicyName=p&PolicyDocument=%7B%7D");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("<Code>MalformedPolicyDocument</Code>"), std::string::npos) << r.body;
  const std::string doc =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]})";
  r = call("Action=PutUserPolicy&Version=2010-05-08&UserName=deploy&PolicyName=p&PolicyDocument=" +
           auth::uri_encode(doc, false));
  ASSERT_EQ(r.status, 200u) << r.body;
  r = call("Action=GetUserPolicy&Version=2010-05-08&UserName=deploy&PolicyName=p");
  EXPECT_NE(r.body.find("<PolicyDocument>" + auth::uri_encode(doc, false) + "</PolicyDocument>"), std::string::npos)
      << r.body;
  r = call("Action=Frobnicate&Version=2010-05-08");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("<Code>InvalidAction</Code>"), std::string::npos);
  r = call("Action=DeleteUser&Version=2010-05-08");
  EXPECT_NE(r.body.find("Value null at 'userName' failed to satisfy constraint: Member must not be null"),
            std::string::npos);
  r = call("Action=ListUsers&Version=2010-05-08&MaxItems=0");
  EXPECT_NE(r.body.find("<Code>ValidationError</Code>"), std::string::npos);
}

TEST_F(query_api_test, only_callers_allowed_iam_actions_manage_identities) {
  auto ci = user_with_key("ci");
  const auto& k = keys["ci"];
  auto r = call("Action=ListUsers&Version=2010-05-08", k.access_key_id, k.secret_access_key);
  EXPECT_EQ(r.status, 403u);
  EXPECT_NE(r.body.find("<Code>AccessDenied</Code><Message>User: arn:aws:iam::000000000000:user/ci is not authorized "
                        "to perform: iam:ListUsers on resource: arn:aws:iam::000000000000:user/* because no "
                        "identity-based policy allows the iam:ListUsers action</Message>"),
            std::string::npos)
      << r.body;
  allow("ci", R"({"Effect":"Allow","Action":"iam:*","Resource":"*"})");
  r = call("Action=ListUsers&Version=2010-05-08", k.access_key_id, k.secret_access_key);
  EXPECT_EQ(r.status, 200u) << r.body;
  r = call("Action=GetCallerIdentity&Version=2011-06-15", k.access_key_id, k.secret_access_key, "sts");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.body.find("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                        "<GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/ci</Arn><UserId>" +
                        ci.user_id + "</UserId><Account>000000000000</Account>"),
            std::string::npos)
      << r.body;
  r = call("Action=GetCallerIdentity&Version=2011-06-15", k.access_key_id, k.secret_access_key, "iam");
  EXPECT_EQ(r.status, 403u);  // scoped to the wrong service
  r = call("Action=GetCallerIdentity&Version=2011-06-15", "AKNOBODY", "x", "sts");
  EXPECT_NE(r.body.find("<Code>InvalidClientTokenId</Code>"), std::string::npos);
  r = call("Action=CreateAccessKey&Version=2010-05-08&UserName=ci");
  r = call("Action=CreateAccessKey&Version=2010-05-08&UserName=ci");
  EXPECT_EQ(r.status, 409u);
  EXPECT_NE(r.body.find("<Code>LimitExceeded</Code><Message>Cannot exceed quota for AccessKeysPerUser: 2</Message>"),
            std::string::npos);
}

}  // namespace
