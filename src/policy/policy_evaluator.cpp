#include "berth/policy/policy_evaluator.hpp"
#include "berth/core/ascii.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "condition_operators.hpp"

namespace berth::policy {
namespace {

// Policy variables (2012-10-17): ${aws:username}, ${key, 'default'}, and ${*} ${?} ${$} for the
// literal characters. nullopt when a variable names a key the request lacks (and no default):
// the element then matches nothing.
std::optional<pattern_text> substitute(std::string_view text, const document& doc, const request_context& rc) {
  pattern_text out;
  auto append = [&](std::string_view s, bool literal) {
    out.text.append(s);
    out.literal.insert(out.literal.end(), s.size(), literal);
  };
  if (doc.version != "2012-10-17" || text.find("${") == std::string_view::npos) {
    append(text, false);
    return out;
  }
  while (!text.empty()) {
    auto open = text.find("${");
    if (open == std::string_view::npos) break;
    auto close = text.find('}', open);
    if (close == std::string_view::npos) break;
    append(text.substr(0, open), false);
    auto inner = text.substr(open + 2, close - open - 2);
    text.remove_prefix(close + 1);
    if (inner == "*" || inner == "?" || inner == "$") {
      append(inner, true);
      continue;
    }
    std::optional<std::string> fallback;
    if (auto comma = inner.find(','); comma != std::string_view::npos) {
      auto rest = inner.substr(comma + 1);
      auto q1 = rest.find('\'');
      auto q2 = q1 == std::string_view::npos ? q1 : rest.find('\'', q1 + 1);
      if (q2 != std::string_view::npos) fallback = std::string(rest.substr(q1 + 1, q2 - q1 - 1));
      inner = inner.substr(0, comma);
      while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
    }
    const auto* values = rc.find(inner);
    if (values != nullptr && values->size() == 1) {
      append(values->front(), true);
    } else if (fallback) {
      append(*fallback, true);
    } else {
      return std::nullopt;
    }
  }
  append(text, false);
  return out;
}

bool action_matches(const statement& s, const request_context& rc) {
  bool any = std::any_of(s.actions.begin(), s.actions.end(),
                         [&](const std::string& a) { return glob_match(a, rc.action, true); });
  return s.not_action ? !any : any;
}

bool resource_matches(const statement& s, const document& doc, const request_context& rc) {
  if (!s.has_resource) return true;  // a repository policy: about its own repository
  bool any = std::any_of(s.resources.begin(), s.resources.end(), [&](const std::string& r) {
    // Most resources name no variable: matched as written, without building a pattern (hot path).
    if (doc.version != "2012-10-17" || r.find("${") == std::string::npos) return glob_match(r, rc.resource, false);
    auto pattern = substitute(r, doc, rc);
    return pattern && glob_match(pattern->text, rc.resource, false, &pattern->literal);
  });
  return s.not_resource ? !any : any;
}

enum class principal_match { none, account, direct };

principal_match match_principal(const principal_set& p, const request_context& rc) {
  if (p.anyone) return principal_match::direct;
  if (rc.principal_arn.empty()) return principal_match::none;
  auto best = principal_match::none;
  for (const auto& name : p.aws) {
    if (name == rc.principal_arn) return principal_match::direct;
    if (name == rc.account || name == "arn:aws:iam::" + rc.account + ":root") best = principal_match::account;
  }
  return best;
}

bool condition_holds(const condition& c, const document& doc, const request_context& rc) {
  const auto* present = rc.find(c.key);
  if (c.op == "Null") {
    // "true": the key must be absent; "false": present.
    const bool absent = present == nullptr || present->empty();
    return std::any_of(c.values.begin(), c.values.end(),
                       [&](const std::string& v) { return (ascii_lower(v) == "true") == absent; });
  }
  auto parsed = parse_operator(c.op);
  if (!parsed) return false;
  std::vector<pattern_text> policy_values;
  const bool variables = parsed->family == operator_family::string || parsed->family == operator_family::arn;
  for (const auto& v : c.values) {
    if (!variables) {
      policy_values.push_back({v, std::vector<bool>(v.size(), false)});
    } else if (auto s = substitute(v, doc, rc)) {
      policy_values.push_back(std::move(*s));
    }
  }
  // Does one request value satisfy the operator (negated operators: it matches no policy value)?
  auto satisfies = [&](const std::string& value) {
    bool any = std::any_of(policy_values.begin(), policy_values.end(),
                           [&](const pattern_text& p) { return positive_match(c.op, p, value); });
    return parsed->negated ? !any : any;
  };
  if (present == nullptr || present->empty()) {
    if (c.if_exists) return true;
    if (c.qualifier == set_qualifier::for_all_values) return true;  // every one of no values
    if (c.qualifier == set_qualifier::for_any_value) return false;
    return parsed->negated;  // a key that is absent matches nothing: only a negation holds
  }
  if (c.qualifier == set_qualifier::for_all_values) return std::all_of(present->begin(), present->end(), satisfies);
  if (c.qualifier == set_qualifier::for_any_value) return std::any_of(present->begin(), present->end(), satisfies);
  // A single-valued key, or a multi-valued one without a qualifier: negations must hold for every
  // value, matches for one.
  return parsed->negated ? std::all_of(present->begin(), present->end(), satisfies)
                         : std::any_of(present->begin(), present->end(), satisfies);
}

bool conditions_hold(const statement& s, const document& doc, const request_context& rc) {
  return std::all_of(s.conditions.begin(), s.conditions.end(),
                     [&](const condition& c) { return condition_holds(c, doc, rc); });
}

}  // namespace

std::optional<std::vector<std::string>> context_keys(const document& doc) {
  auto variable = [&](const std::string& t) {
    return doc.version == "2012-10-17" && t.find("${") != std::string::npos;
  };
  auto any_variable = [&](const std::vector<std::string>& v) { return std::any_of(v.begin(), v.end(), variable); };
  std::vector<std::string> keys;
  for (const auto& st : doc.statements) {
    if (any_variable(st.actions) || any_variable(st.resources)) return std::nullopt;
    if (st.principal && (any_variable(st.principal->aws) || any_variable(st.principal->other))) return std::nullopt;
    for (const auto& c : st.conditions) {
      if (variable(c.key) || any_variable(c.values)) return std::nullopt;
      keys.push_back(ascii_lower(c.key));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

bool request_context::case_insensitive_less::operator()(std::string_view a, std::string_view b) const {
  const auto n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = std::tolower(static_cast<unsigned char>(a[i]));
    const auto y = std::tolower(static_cast<unsigned char>(b[i]));
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

void request_context::set(std::string key, std::vector<std::string> values) {
  keys_.insert_or_assign(std::move(key), std::move(values));
}

const std::vector<std::string>* request_context::find(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

decision evaluate(const std::vector<const document*>& identity_policies,
                  const std::vector<const document*>& resource_policies, const request_context& rc) {
  bool identity_allow = false;
  bool resource_allow = false;
  for (const auto* doc : identity_policies) {
    for (const auto& s : doc->statements) {
      if (!action_matches(s, rc) || !resource_matches(s, *doc, rc) || !conditions_hold(s, *doc, rc)) continue;
      if (s.what == effect::deny) return {verdict::explicit_deny, policy_source::identity};
      identity_allow = true;
    }
  }
  for (const auto* doc : resource_policies) {
    for (const auto& s : doc->statements) {
      if (!s.principal) continue;
      auto who = match_principal(*s.principal, rc);
      // NotPrincipal: everyone the list does not name, at any level.
      if (s.not_principal) who = who == principal_match::none ? principal_match::direct : principal_match::none;
      if (who == principal_match::none) continue;
      if (!action_matches(s, rc) || !resource_matches(s, *doc, rc) || !conditions_hold(s, *doc, rc)) continue;
      if (s.what == effect::deny) return {verdict::explicit_deny, policy_source::resource};
      if (who == principal_match::direct) resource_allow = true;
    }
  }
  if (identity_allow) return {verdict::allow, policy_source::identity};
  if (resource_allow) return {verdict::allow, policy_source::resource};
  return {verdict::implicit_deny, policy_source::none};
}

}  // namespace berth::policy
