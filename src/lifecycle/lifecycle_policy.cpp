#include "berth/lifecycle/lifecycle_policy.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "berth/core/json_depth.hpp"
#include "berth/core/wildcard.hpp"

namespace berth::lifecycle {
namespace {

using json = nlohmann::json;

// A string property, or `fallback` when absent. A value of another type reads as its JSON text,
// which the caller's check then refuses with its usual message (json::value would throw).
std::string text_or(const json& obj, const char* key, std::string fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

error failure(const std::string& reason) {
  return make_error(errc::invalid_parameter,
                    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy "
                    "validation failure: " +
                        reason + "'");
}

std::string rule_name(std::int64_t priority) { return "rule with rulePriority " + std::to_string(priority); }

result<void> only(const json& obj, std::initializer_list<const char*> keys, const std::string& where) {
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (auto key : keys) known = known || k == key;
    if (!known) return failure(where + " has a property which is not allowed: \"" + k + "\"");
  }
  return {};
}

result<std::vector<std::string>> string_list(const json& sel, const char* key, const std::string& where) {
  std::vector<std::string> out;
  auto it = sel.find(key);
  if (it == sel.end()) return out;
  if (!it->is_array() || it->empty()) return failure(std::string(key) + " of " + where + " must be a non-empty array");
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return failure(std::string(key) + " of " + where + " must contain non-empty strings");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

result<rule> parse_rule(const json& r) {
  if (!r.is_object()) return failure("every rule must be an object");
  auto prio = r.find("rulePriority");
  if (prio == r.end() || !prio->is_number_integer() || prio->get<std::int64_t>() < 1) {
    return failure("every rule needs a rulePriority that is a positive integer");
  }
  rule out;
  out.priority = prio->get<std::int64_t>();
  const auto where = rule_name(out.priority);
  if (auto ok = only(r, {"rulePriority", "description", "selection", "action"}, where); !ok) return ok.take_error();
  if (auto d = r.find("description"); d != r.end()) {
    if (!d->is_string()) return failure("description of " + where + " must be a string");
    out.description = d->get<std::string>();
  }
  auto sel = r.find("selection");
  if (sel == r.end() || !sel->is_object()) return failure(where + " has missing required properties ([\"selection\"])");
  if (auto ok = only(
          *sel,
          {"tagStatus", "tagPrefixList", "tagPatternList", "storageClass", "countType", "countUnit", "countNumber"},
          "selection of " + where);
      !ok) {
    return ok.take_error();
  }
  auto& s = out.select;
  s.tag_status = text_or(*sel, "tagStatus", std::string());
  if (s.tag_status != "tagged" && s.tag_status != "untagged" && s.tag_status != "any") {
    return failure("tagStatus of " + where + " must be one of tagged, untagged, any");
  }
  auto prefixes = string_list(*sel, "tagPrefixList", where);
  if (!prefixes) return prefixes.take_error();
  s.tag_prefixes = std::move(prefixes).value();
  auto patterns = string_list(*sel, "tagPatternList", where);
  if (!patterns) return patterns.take_error();
  s.tag_patterns = std::move(patterns).value();
  if (s.tag_status == "tagged" && s.tag_prefixes.empty() && s.tag_patterns.empty()) {
    return failure(where + " selects tagged images but has neither tagPrefixList nor tagPatternList");
  }
  if (s.tag_status != "tagged" && (!s.tag_prefixes.empty() || !s.tag_patterns.empty())) {
    return failure(where + ": tagPrefixList and tagPatternList can only be used with tagStatus tagged");
  }
  if (!s.tag_prefixes.empty() && !s.tag_patterns.empty()) {
    return failure(where + " cannot have both tagPrefixList and tagPatternList");
  }
  for (const auto& p : s.tag_patterns) {
    if (std::count(p.begin(), p.end(), '*') > 4) {
      return failure("tagPatternList of " + where + " has a pattern with more than 4 wildcards: " + p);
    }
  }
  s.storage_class = text_or(*sel, "storageClass", std::string("standard"));
  if (s.storage_class != "standard" && s.storage_class != "archive") {
    return failure("storageClass of " + where + " must be standard or archive");
  }
  s.count_type = text_or(*sel, "countType", std::string());
  const bool by_count = s.count_type == "imageCountMoreThan";
  const bool by_age = s.count_type == "sinceImagePushed" || s.count_type == "sinceImagePulled" ||
                      s.count_type == "sinceImageTransitioned";
  if (!by_count && !by_age) {
    return failure("countType of " + where +
                   " must be one of imageCountMoreThan, sinceImagePushed, sinceImagePulled, sinceImageTransitioned");
  }
  auto unit = sel->find("countUnit");
  if (by_count && unit != sel->end()) return failure(where + ": countUnit cannot be used with imageCountMoreThan");
  if (by_age) {
    if (unit == sel->end() || *unit != "days") return failure(where + ": countUnit must be days for " + s.count_type);
    s.count_unit = "days";
  }
  if (s.count_type == "sinceImageTransitioned" && s.storage_class != "archive") {
    return failure(where + ": sinceImageTransitioned requires storageClass archive");
  }
  auto num = sel->find("countNumber");
  if (num == sel->end() || !num->is_number_integer() || num->get<std::int64_t>() < 1) {
    return failure("countNumber of " + where + " must be an integer of at least 1");
  }
  s.count_number = num->get<std::int64_t>();

  auto act = r.find("action");
  if (act == r.end() || !act->is_object()) return failure(where + " has missing required properties ([\"action\"])");
  if (auto ok = only(*act, {"type", "targetStorageClass"}, "action of " + where); !ok) return ok.take_error();
  out.action.type = text_or(*act, "type", std::string());
  if (out.action.type == "expire") {
    if (act->contains("targetStorageClass")) return failure(where + ": targetStorageClass is only for transition");
  } else if (out.action.type == "transition") {
    out.action.target_storage_class = text_or(*act, "targetStorageClass", std::string());
    if (out.action.target_storage_class != "archive") {
      return failure(where + ": a transition needs targetStorageClass archive");
    }
    if (s.storage_class != "standard") return failure(where + ": only standard images can transition to archive");
  } else {
    return failure("action type of " + where + " must be expire or transition");
  }
  return out;
}

}  // namespace

result<policy> parse_policy(std::string_view text) {
  if (text.size() < min_policy_length || text.size() > max_policy_length) {
    return make_error(errc::invalid_parameter,
                      "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'must have length "
                      "between " +
                          std::to_string(min_policy_length) + " and " + std::to_string(max_policy_length) + "'");
  }
  if (!json_depth_within(text)) return failure("the policy is nested too deeply");
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return failure("the policy is not a JSON object");
  if (auto ok = only(doc, {"rules"}, "the policy"); !ok) return ok.take_error();
  auto rules = doc.find("rules");
  if (rules == doc.end()) return failure("object has missing required properties ([\"rules\"])");
  if (!rules->is_array() || rules->empty()) return failure("rules must be a non-empty array");
  policy p;
  std::set<std::int64_t> priorities;
  std::map<std::string, int> untagged;
  for (const auto& r : *rules) {
    auto parsed = parse_rule(r);
    if (!parsed) return parsed.take_error();
    if (!priorities.insert(parsed->priority).second) {
      return failure("rulePriority " + std::to_string(parsed->priority) + " is used by more than one rule");
    }
    if (parsed->select.tag_status == "untagged" && ++untagged[parsed->select.storage_class] > 1) {
      return failure("only one rule can select untagged images");
    }
    p.rules.push_back(std::move(parsed).value());
  }
  std::sort(p.rules.begin(), p.rules.end(), [](const rule& a, const rule& b) { return a.priority < b.priority; });
  // Within a storage class, a rule that selects any image must come last.
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    if (p.rules[i].select.tag_status != "any") continue;
    for (std::size_t j = i + 1; j < p.rules.size(); ++j) {
      if (p.rules[j].select.storage_class == p.rules[i].select.storage_class) {
        return failure(rule_name(p.rules[i].priority) +
                       " selects any images, so it must have the highest rulePriority of all rules");
      }
    }
  }
  return p;
}

bool selection_matches(const selection& s, const image& img) {
  if ((s.storage_class == "archive") != img.archived) return false;
  if (s.tag_status == "untagged") return img.tags.empty();
  if (s.tag_status == "any") return true;
  if (img.tags.empty()) return false;
  // Every prefix and every pattern must match at least one of the image's tags.
  for (const auto& prefix : s.tag_prefixes) {
    if (std::none_of(img.tags.begin(), img.tags.end(), [&](const std::string& t) { return t.starts_with(prefix); })) {
      return false;
    }
  }
  for (const auto& pattern : s.tag_patterns) {
    if (std::none_of(img.tags.begin(), img.tags.end(),
                     [&](const std::string& t) { return wildcard_match(pattern, t); })) {
      return false;
    }
  }
  return true;
}

std::vector<decision> evaluate(const policy& p, const std::vector<image>& images, std::int64_t now) {
  std::set<std::string> seen;   // selected by a rule already applied
  std::set<std::string> acted;  // already expired or transitioned by one
  std::vector<std::pair<const image*, decision>> out;
  for (const auto& r : p.rules) {
    std::vector<const image*> candidates;
    for (const auto& img : images) {
      if (selection_matches(r.select, img)) candidates.push_back(&img);
    }
    std::vector<const image*> marked;
    if (r.select.count_type == "imageCountMoreThan") {
      auto by_newest = candidates;
      std::sort(by_newest.begin(), by_newest.end(), [](const image* a, const image* b) {
        return a->pushed_at != b->pushed_at ? a->pushed_at > b->pushed_at : a->digest > b->digest;
      });
      if (by_newest.size() > static_cast<std::size_t>(r.select.count_number)) {
        marked.assign(by_newest.begin() + r.select.count_number, by_newest.end());
      }
    } else {
      const auto cutoff = now - r.select.count_number * 86400;
      for (const auto* img : candidates) {
        std::int64_t t = img->pushed_at;
        if (r.select.count_type == "sinceImagePulled" && img->last_pulled_at > 0) t = img->last_pulled_at;
        if (r.select.count_type == "sinceImageTransitioned")
          t = img->last_archived_at ? img->last_archived_at : img->pushed_at;
        if (t < cutoff) marked.push_back(img);
      }
    }
    for (const auto* img : marked) {
      if (seen.count(img->digest) || acted.count(img->digest)) continue;
      acted.insert(img->digest);
      decision d{img->digest, r.priority, r.action.type == "expire" ? "EXPIRE" : "TRANSITION",
                 r.action.type == "transition" ? "ARCHIVE" : ""};
      out.emplace_back(img, std::move(d));
    }
    for (const auto* img : candidates) seen.insert(img->digest);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first->pushed_at != b.first->pushed_at ? a.first->pushed_at < b.first->pushed_at
                                                    : a.first->digest < b.first->digest;
  });
  std::vector<decision> decisions;
  for (auto& [img, d] : out) decisions.push_back(std::move(d));
  return decisions;
}

}  // namespace berth::lifecycle
