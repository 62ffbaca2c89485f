// Validation in IAM's order, with IAM's messages: syntax first (any shape error is "Syntax errors
// in policy."), then the version, the legacy checks (effect case, dates), statement ids, actions,
// resources, and last the action vendors. The order matters to clients that match on the message.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "berth/core/json_depth.hpp"
#include "berth/policy/policy_document.hpp"
#include "condition_operators.hpp"

namespace berth::policy {
namespace {

using json = nlohmann::json;

error malformed(std::string message) { return make_error(errc::malformed_policy_document, std::move(message)); }

const std::set<std::string, std::less<>> top_elements = {"Version", "Id", "Statement"};
const std::set<std::string, std::less<>> statement_elements = {
    "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal", "NotPrincipal"};

bool is_scalar(const json& v) { return v.is_string() || v.is_number() || v.is_boolean(); }

std::string scalar_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool string_or_strings(const json& v) {
  if (v.is_string()) return true;
  if (!v.is_array()) return false;
  return std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
}

std::vector<std::string> strings_of(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.get<std::string>());
  return out;
}

bool principal_syntax_ok(const json& p) {
  if (p.is_string()) return p.get<std::string>() == "*";
  if (!p.is_object() || p.empty()) return false;
  for (const auto& [k, v] : p.items()) {
    if (k != "AWS" && k != "Service" && k != "Federated" && k != "CanonicalUser") return false;
    if (!string_or_strings(v) || (v.is_array() && v.empty())) return false;
  }
  return true;
}

bool condition_syntax_ok(const json& c) {
  if (!c.is_object()) return false;
  for (const auto& [op, keys] : c.items()) {
    if (!keys.is_object()) return false;
    for (const auto& [k, v] : keys.items()) {
      if (v.is_array()) {
        if (!std::all_of(v.begin(), v.end(), is_scalar)) return false;
      } else if (!is_scalar(v)) {
        return false;
      }
    }
    if (!parse_operator(op) && !keys.empty()) return false;
  }
  return true;
}

bool statement_syntax_ok(const json& s) {
  if (!s.is_object()) return false;
  for (const auto& [k, v] : s.items()) {
    if (!statement_elements.count(k)) return false;
  }
  if (s.contains("Resource") && s.contains("NotResource")) return false;
  if (s.contains("Action") && s.contains("NotAction")) return false;
  if (s.contains("Principal") && s.contains("NotPrincipal")) return false;
  auto e = s.find("Effect");
  if (e == s.end() || !e->is_string()) return false;
  auto lowered = e->get<std::string>();
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lowered != "allow" && lowered != "deny") return false;
  for (const char* key : {"Action", "NotAction", "Resource", "NotResource"}) {
    if (auto it = s.find(key); it != s.end() && !string_or_strings(*it)) return false;
  }
  for (const char* key : {"Principal", "NotPrincipal"}) {
    if (auto it = s.find(key); it != s.end() && !principal_syntax_ok(*it)) return false;
  }
  if (auto it = s.find("Condition"); it != s.end() && !condition_syntax_ok(*it)) return false;
  if (auto it = s.find("Sid"); it != s.end() && !it->is_string()) return false;
  return true;
}

// The document's statements, or nullopt on any syntax error.
std::optional<std::vector<const json*>> syntax_ok(const json& doc) {
  if (!doc.is_object()) return std::nullopt;
  for (const auto& [k, v] : doc.items()) {
    if (!top_elements.count(k)) return std::nullopt;
  }
  if (auto v = doc.find("Version"); v != doc.end()) {
    if (!v->is_string() || (*v != "2008-10-17" && *v != "2012-10-17")) return std::nullopt;
  }
  if (auto id = doc.find("Id"); id != doc.end() && !id->is_string()) return std::nullopt;
  auto st = doc.find("Statement");
  if (st == doc.end() || !(st->is_object() || st->is_array())) return std::nullopt;
  std::vector<const json*> out;
  if (st->is_object()) {
    out.push_back(&*st);
  } else {
    for (const auto& s : *st) out.push_back(&s);
  }
  if (out.empty()) return std::nullopt;
  for (const auto* s : out) {
    if (!statement_syntax_ok(*s)) return std::nullopt;
  }
  return out;
}

bool legacy_ok(const json& s) {
  if (s["Effect"] != "Allow" && s["Effect"] != "Deny") return false;  // case-sensitive here
  if (auto c = s.find("Condition"); c != s.end()) {
    for (const auto& [op, keys] : c->items()) {
      auto parsed = parse_operator(op);
      if (!parsed || parsed->family != operator_family::date) continue;
      for (const auto& [k, v] : keys.items()) {
        for (const auto& one : v.is_array() ? v : json::array({v})) {
          if (!parse_time(scalar_text(one))) return false;
        }
      }
    }
  }
  return true;
}

bool has_nonempty(const json& s, const char* a, const char* b) {
  for (const char* key : {a, b}) {
    if (auto it = s.find(key); it != s.end()) return !(it->is_array() && it->empty());
  }
  return false;
}

// "" when the resource is well-formed, else IAM's message for it.
std::string resource_error(const std::string& r) {
  if (r == "*") return "";
  if (r.find(':') == std::string::npos) return "Resource " + r + " must be in ARN format or \"*\".";
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    auto colon = r.find(':', start);
    if (colon == std::string::npos) break;
    parts.push_back(r.substr(start, colon - start));
    start = colon + 1;
  }
  parts.push_back(r.substr(start));
  if (parts.size() < 6 || parts[0] != "arn") return "Resource " + r + " must be in ARN format or \"*\".";
  if (parts[1] != "aws") {
    auto field = [&](std::size_t i) { return parts[i].empty() ? std::string("*") : parts[i]; };
    return "Partition \"" + parts[1] + "\" is not valid for resource \"arn:" + parts[1] + ":" + field(2) + ":" +
           field(3) + ":" + field(4) + ":" + field(5) + "\".";
  }
  if (parts[2].empty() || parts[2].find_first_of("*?") != std::string::npos) {
    return "Resource vendor must be fully qualified and cannot contain regexes.";
  }
  return "";
}

std::string action_error(const std::string& a) {
  if (a == "*") return "";
  auto colon = a.find(':');
  if (colon == std::string::npos) return "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
  if (a.find(':', colon + 1) != std::string::npos) return "Actions/Condition can contain only one colon.";
  auto vendor = a.substr(0, colon);
  bool valid = !vendor.empty() && std::all_of(vendor.begin(), vendor.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '*' || c == '?';
  });
  if (!valid) return "Vendor " + vendor + " is not valid";
  return "";
}

principal_set principal_of(const json& p) {
  principal_set out;
  if (p.is_string()) {
    out.anyone = true;
    return out;
  }
  for (const auto& [k, v] : p.items()) {
    for (auto& value : strings_of(v)) {
      if (k == "AWS" && value == "*") {
        out.anyone = true;
      } else if (k == "AWS") {
        out.aws.push_back(std::move(value));
      } else {
        out.other.push_back(std::move(value));
      }
    }
  }
  return out;
}

statement statement_of(const json& s) {
  statement out;
  if (auto it = s.find("Sid"); it != s.end()) out.sid = it->get<std::string>();
  out.what = s["Effect"] == "Deny" ? effect::deny : effect::allow;
  if (auto it = s.find("Action"); it != s.end()) out.actions = strings_of(*it);
  if (auto it = s.find("NotAction"); it != s.end()) {
    out.not_action = true;
    out.actions = strings_of(*it);
  }
  if (auto it = s.find("Resource"); it != s.end()) {
    out.has_resource = true;
    out.resources = strings_of(*it);
  }
  if (auto it = s.find("NotResource"); it != s.end()) {
    out.has_resource = true;
    out.not_resource = true;
    out.resources = strings_of(*it);
  }
  if (auto it = s.find("Principal"); it != s.end()) out.principal = principal_of(*it);
  if (auto it = s.find("NotPrincipal"); it != s.end()) {
    out.principal = principal_of(*it);
    out.not_principal = true;
  }
  if (auto c = s.find("Condition"); c != s.end()) {
    for (const auto& [op, keys] : c->items()) {
      auto parsed = parse_operator(op);
      if (!parsed) continue;  // an unknown operator with no keys (syntax_ok refused any other)
      for (const auto& [k, v] : keys.items()) {
        condition cond;
        cond.op = parsed->base;
        cond.qualifier = parsed->qualifier;
        cond.if_exists = parsed->if_exists;
        cond.key = k;
        for (const auto& one : v.is_array() ? v : json::array({v})) cond.values.push_back(scalar_text(one));
        out.conditions.push_back(std::move(cond));
      }
    }
  }
  return out;
}

}  // namespace

result<document> parse(std::string_view text, document_kind kind) {
  if (!json_depth_within(text)) return malformed("Syntax errors in policy.");
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return malformed("Syntax errors in policy.");
  auto statements = syntax_ok(doc);
  if (!statements) return malformed("Syntax errors in policy.");
  const auto version = doc.contains("Version") ? doc["Version"].get<std::string>() : std::string();
  // Repository policies written by ECR's console say 2008-10-17; IAM wants the current version.
  if (kind == document_kind::identity && version != "2012-10-17") {
    return malformed("Policy document must be version 2012-10-17 or greater.");
  }
  for (const auto* s : *statements) {
    if (!legacy_ok(*s)) return malformed("The policy failed legacy parsing");
  }
  std::set<std::string> sids;
  for (const auto* s : *statements) {
    if (auto it = s->find("Sid"); it != s->end() && !it->get<std::string>().empty()) {
      if (!sids.insert(it->get<std::string>()).second) {
        return malformed("Statement IDs (SID) in a single policy must be unique.");
      }
    }
  }
  for (const auto* s : *statements) {
    if (!has_nonempty(*s, "Action", "NotAction")) return malformed("Policy statement must contain actions.");
  }
  for (const auto* s : *statements) {
    const bool principal = s->contains("Principal") || s->contains("NotPrincipal");
    const bool resource = s->contains("Resource") || s->contains("NotResource");
    if (kind == document_kind::identity) {
      if (principal) return malformed("Policy document should not specify a principal.");
      if (!has_nonempty(*s, "Resource", "NotResource")) return malformed("Policy statement must contain resources.");
    } else {
      if (!principal) return malformed("Missing required field Principal");
      if (kind == document_kind::repository && resource) {
        return malformed("A repository policy applies to its repository: it has no Resource");
      }
      if (resource && !has_nonempty(*s, "Resource", "NotResource")) {
        return malformed("Policy statement must contain resources.");
      }
    }
  }
  for (const auto* s : *statements) {
    for (const char* key : {"Resource", "NotResource"}) {
      if (auto it = s->find(key); it != s->end()) {
        for (const auto& r : strings_of(*it)) {
          if (auto e = resource_error(r); !e.empty()) return malformed(e);
        }
      }
    }
  }
  for (const auto* s : *statements) {
    for (const char* key : {"Action", "NotAction"}) {
      if (auto it = s->find(key); it != s->end()) {
        for (const auto& a : strings_of(*it)) {
          if (auto e = action_error(a); !e.empty()) return malformed(e);
        }
      }
    }
  }
  document out;
  out.version = version;
  for (const auto* s : *statements) out.statements.push_back(statement_of(*s));
  return out;
}

}  // namespace berth::policy
