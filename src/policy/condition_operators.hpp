// The Condition operators of IAM's policy grammar (private to the policy library): names, what
// one policy value means against one request value, and the value formats (times, addresses).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/policy/policy_document.hpp"

namespace berth::policy {

enum class operator_family { string, numeric, date, boolean, binary, ip, arn, null };

struct parsed_operator {
  std::string base;  // StringNotLike
  operator_family family = operator_family::string;
  bool negated = false;  // StringNotLike, NotIpAddress, …: true when no policy value matches
  set_qualifier qualifier = set_qualifier::none;
  bool if_exists = false;
};

// "ForAnyValue:StringLikeIfExists" → {StringLike, string, false, for_any_value, true}; nullopt
// for an operator IAM does not know.
std::optional<parsed_operator> parse_operator(std::string_view name);

// A policy value after variable substitution: the text and which characters are literal.
struct pattern_text {
  std::string text;
  std::vector<bool> literal;
};

// Whether `request_value` satisfies `policy_value` under `op`'s positive form (StringNotLike
// compares as StringLike; the caller negates). A value that does not parse matches nothing.
bool positive_match(std::string_view op, const pattern_text& policy_value, std::string_view request_value);

// IAM's date values: ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z, with fractions or an offset) or
// seconds since the epoch. Seconds since the epoch, UTC.
std::optional<std::int64_t> parse_time(std::string_view text);

// '*' any run, '?' one character, except where `literal` (when given: one flag per pattern
// character) marks a character as itself: what a policy variable or ${*} put there.
bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case = false,
                const std::vector<bool>* literal = nullptr);

}  // namespace berth::policy
