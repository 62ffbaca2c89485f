#include "berth/lifecycle/lifecycle_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace berth;
using namespace berth::lifecycle;

namespace {

constexpr std::int64_t now = 1'800'000'000;
constexpr std::int64_t day = 86400;

image img(const std::string& d, std::vector<std::string> tags, std::int64_t days_ago,
          std::int64_t pulled_days_ago = -1) {
  return image{d,    std::move(tags), now - days_ago * day, pulled_days_ago < 0 ? 0 : now - pulled_days_ago * day, 0,
               false};
}

// Pads a policy to ECR's 100-character minimum without changing its meaning.
std::string doc(const std::string& rules) {
  std::string text = R"({"rules":[)" + rules + "]}";
  while (text.size() < 100) text.insert(text.size() - 1, " ");
  return text;
}

std::string rule_json(int prio, const std::string& selection, const std::string& action = R"({"type":"expire"})") {
  return R"({"rulePriority":)" + std::to_string(prio) + R"(,"description":"r","selection":)" + selection +
         R"(,"action":)" + action + "}";
}

std::vector<std::string> expired(const std::string& policy_text, const std::vector<image>& images) {
  auto p = parse_policy(policy_text);
  EXPECT_TRUE(p) << (p ? "" : p.error_value().message);
  if (!p) return {};
  std::vector<std::string> out;
  for (const auto& d : evaluate(*p, images, now)) out.push_back(d.digest + "@" + std::to_string(d.rule_priority));
  return out;
}

}  // namespace

struct scenario {
  const char* name;
  std::string policy;
  std::vector<image> images;
  std::vector<std::string> expect;  // digest@rule, oldest image first
};

void PrintTo(const scenario& s, std::ostream* os) { *os << s.name; }

class lifecycle_scenarios : public ::testing::TestWithParam<scenario> {};

TEST_P(lifecycle_scenarios, evaluates_as_ecr_documents) {
  const auto& s = GetParam();
  EXPECT_EQ(expired(s.policy, s.images), s.expect) << s.name;
}

INSTANTIATE_TEST_SUITE_P(
    table, lifecycle_scenarios,
    ::testing::Values(
        // ECR user guide, "Filtering on multiple rules", example A: B carries prod-2, which rule 1
        // selected (and kept), so rule 2 cannot expire it.
        scenario{
            "ecr_example_a",
            doc(rule_json(
                    1,
                    R"({"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1})") +
                "," +
                rule_json(
                    2,
                    R"({"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1})")),
            {img("A", {"beta-1", "prod-1"}, 10), img("B", {"beta-2", "prod-2"}, 9), img("C", {"beta-3"}, 8)},
            {"A@1"}},
        // Example B: both older images go, by rule 1.
        scenario{
            "ecr_example_b",
            doc(rule_json(
                    1,
                    R"({"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1})") +
                "," +
                rule_json(
                    2,
                    R"({"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1})")),
            {img("A", {"beta-1", "prod-1"}, 10), img("B", {"beta-2", "prod-2"}, 9), img("C", {"beta-3", "prod-3"}, 8)},
            {"A@1", "B@1"}},
        // Several prefixes in one rule: every prefix must match one of the image's tags.
        scenario{
            "all_prefixes_must_match",
            doc(rule_json(
                1,
                R"({"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"sinceImagePushed","countUnit":"days","countNumber":5})")),
            {img("A", {"alpha-1", "beta-1"}, 10), img("B", {"alpha-2"}, 10), img("C", {"alpha-3", "beta-3"}, 1)},
            {"A@1"}},
        scenario{
            "patterns_with_wildcards",
            doc(rule_json(
                1,
                R"({"tagStatus":"tagged","tagPatternList":["v*-rc*"],"countType":"imageCountMoreThan","countNumber":1})")),
            {img("A", {"v1-rc1"}, 3), img("B", {"v1-rc2"}, 2), img("C", {"v1"}, 1), img("D", {"v2-rc1"}, 1)},
            {"A@1", "B@1"}},
        scenario{
            "untagged_by_age",
            doc(rule_json(
                1, R"({"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14})")),
            {img("old", {}, 20), img("new", {}, 3), img("tagged", {"x"}, 30)},
            {"old@1"}},
        scenario{"any_keeps_the_newest",
                 doc(rule_json(1, R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2})")),
                 {img("a", {}, 4), img("b", {"t"}, 3), img("c", {}, 2), img("d", {"u"}, 1)},
                 {"a@1", "b@1"}},
        // Images a higher rule matched still count toward a lower rule's imageCountMoreThan.
        scenario{
            "seen_images_still_count",
            doc(rule_json(
                    1,
                    R"({"tagStatus":"tagged","tagPrefixList":["keep"],"countType":"imageCountMoreThan","countNumber":100})") +
                "," + rule_json(2, R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2})")),
            {img("k1", {"keep-1"}, 1), img("k2", {"keep-2"}, 2), img("x", {}, 3), img("y", {}, 4)},
            {"y@2", "x@2"}},
        scenario{
            "pulled_recently_survives",
            doc(rule_json(1,
                          R"({"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":7})")),
            {img("never", {}, 30), img("pulled-old", {}, 30, 10), img("pulled-new", {}, 30, 1)},
            {"never@1", "pulled-old@1"}},
        scenario{
            "one_rule_per_image_lowest_priority_first",
            doc(rule_json(
                    5,
                    R"({"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1})") +
                "," +
                rule_json(9,
                          R"({"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":1})")),
            {img("u", {}, 3), img("t", {"x"}, 2)},
            {"u@5", "t@9"}},
        scenario{
            "nothing_matches",
            doc(rule_json(
                1,
                R"({"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1})")),
            {img("a", {"dev"}, 9), img("b", {}, 8)},
            {}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(lifecycle_policy, transitions_and_archived_images) {
  auto text = doc(
      rule_json(1, R"({"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":3})",
                R"({"type":"transition","targetStorageClass":"archive"})") +
      "," +
      rule_json(
          2,
          R"({"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":5})"));
  auto p = parse_policy(text);
  ASSERT_TRUE(p) << p.error_value().message;
  image archived_long_ago{"arch", {}, now - 40 * day, 0, now - 10 * day, true};
  image fresh{"fresh", {}, now - day, 0, 0, false};
  image old{"old", {}, now - 5 * day, 0, 0, false};
  auto ds = evaluate(*p, {archived_long_ago, fresh, old}, now);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].digest, "arch");
  EXPECT_EQ(ds[0].action, "EXPIRE");
  EXPECT_EQ(ds[1].digest, "old");
  EXPECT_EQ(ds[1].action, "TRANSITION");
  EXPECT_EQ(ds[1].target_storage_class, "ARCHIVE");
}

TEST(lifecycle_policy, validation_in_ecr_wording) {
  auto reason = [](const std::string& text) {
    auto p = parse_policy(text);
    EXPECT_FALSE(p) << text;
    return p ? std::string() : p.error_value().message;
  };
  const std::string prefix =
      "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ";
  EXPECT_EQ(reason(doc("").replace(1, 7, "\"rulez\"")).substr(0, prefix.size()), prefix);
  EXPECT_NE(reason(R"({"x":1,"rules":[]})" + std::string(90, ' ')).find("has a property which is not allowed"),
            std::string::npos);
  EXPECT_NE(reason(doc(rule_json(1, R"({"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1})")))
                .find("neither tagPrefixList nor tagPatternList"),
            std::string::npos);
  EXPECT_NE(
      reason(
          doc(rule_json(
              1, R"({"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1})")))
          .find("only be used with tagStatus tagged"),
      std::string::npos);
  EXPECT_NE(reason(doc(rule_json(1, R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1})") + "," +
                       rule_json(2, R"({"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1})")))
                .find("must have the highest rulePriority"),
            std::string::npos);
  EXPECT_NE(reason(doc(rule_json(1, R"({"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1})") +
                       "," + rule_json(1, R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1})")))
                .find("used by more than one rule"),
            std::string::npos);
  EXPECT_NE(
      reason(doc(rule_json(1, R"({"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1})") + "," +
                 rule_json(2, R"({"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2})")))
          .find("only one rule can select untagged"),
      std::string::npos);
  EXPECT_NE(
      reason(doc(rule_json(
                 1, R"({"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1})")))
          .find("countUnit cannot be used"),
      std::string::npos);
  EXPECT_NE(reason(doc(rule_json(1, R"({"tagStatus":"any","countType":"sinceImagePushed","countNumber":1})")))
                .find("countUnit must be days"),
            std::string::npos);
  EXPECT_NE(reason(doc(rule_json(1, R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0})")))
                .find("countNumber"),
            std::string::npos);
  EXPECT_NE(
      reason(
          doc(rule_json(
              1,
              R"({"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],"countType":"imageCountMoreThan","countNumber":1})")))
          .find("more than 4 wildcards"),
      std::string::npos);
  EXPECT_NE(reason(doc(rule_json(1, R"({"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1})",
                                 R"({"type":"transition"})")))
                .find("targetStorageClass archive"),
            std::string::npos);
  EXPECT_NE(reason("{}").find("must have length"), std::string::npos);
  EXPECT_NE(reason(std::string(30721, ' ')).find("must have length"), std::string::npos);
}
