#include "berth/registry/pull_through_rules.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "berth/meta/metadata_store.hpp"

namespace berth {
namespace {

error rule_not_found() {
  return make_error(
      errc::pull_through_rule_not_found,
      "The pull through cache rule was not found. Specify a valid pull through cache rule and try again.");
}

std::string normalized(std::string prefix) {
  if (prefix != "ROOT" && prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  return prefix;
}

// host[:port], as ECR takes upstreamRegistryUrl (no scheme, no path).
bool valid_upstream_url(const std::string& url) {
  const auto colon = url.rfind(':');
  const auto host = url.substr(0, colon);
  if (host.empty() || host.size() > 253) return false;
  if (!std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
      })) {
    return false;
  }
  if (host.front() == '.' || host.front() == '-' || host.back() == '.' || host.back() == '-') return false;
  if (colon == std::string::npos) return true;
  const auto port = url.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
  const auto n = std::stoi(port);
  return n >= 1 && n <= 65535;
}

// ECR's name for the registries it knows by host; "" for any other V2 registry.
std::string registry_kind_of(const std::string& url) {
  auto host = url.substr(0, url.rfind(':') == std::string::npos ? url.size() : url.rfind(':'));
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host == "registry-1.docker.io" || host == "docker.io" || host == "index.docker.io") return "docker-hub";
  if (host == "public.ecr.aws") return "ecr-public";
  if (host == "quay.io") return "quay";
  if (host == "registry.k8s.io") return "k8s";
  if (host == "ghcr.io") return "github-container-registry";
  if (host == "registry.gitlab.com") return "gitlab-container-registry";
  if (host == "cgr.dev") return "chainguard";
  if (host.ends_with(".azurecr.io")) return "azure-container-registry";
  if (host.ends_with(".amazonaws.com") && host.find(".dkr.ecr.") != std::string::npos) return "ecr";
  return "";
}

bool needs_credentials(const std::string& kind) {
  return kind == "docker-hub" || kind == "github-container-registry" || kind == "gitlab-container-registry" ||
         kind == "azure-container-registry" || kind == "chainguard" || kind == "ecr";
}

pull_through_rule from_row(const meta::pull_through_rule_row& r) {
  return pull_through_rule{r.prefix,          r.upstream_url,    r.upstream_registry, r.credential_arn,
                           r.custom_role_arn, r.upstream_prefix, r.created_at,        r.updated_at};
}

meta::pull_through_rule_row to_row(const pull_through_rule& r) {
  return meta::pull_through_rule_row{r.prefix,          r.upstream_url,    r.upstream_registry, r.credential_arn,
                                     r.custom_role_arn, r.upstream_prefix, r.created_at,        r.updated_at};
}

}  // namespace

result<std::optional<upstream_credentials>> pull_through_rules::credentials(const pull_through_rule& rule) {
  if (rule.credential_arn.empty()) return std::optional<upstream_credentials>();
  auto v = vault_.value(rule.credential_arn, "", "");
  if (!v) {
    // In ECR's terms; anything else (the metadata unreachable) passes through as it is.
    const auto code = v.error_value().code;
    if (code == errc::secret_not_found || code == errc::name_invalid) {
      return make_error(errc::secret_not_found,
                        "The ARN of the secret specified in the pull through cache rule was not found. Update the "
                        "pull through cache rule with a valid secret ARN and try again.");
    }
    if (code == errc::unable_to_decrypt_secret) {
      return make_error(errc::unable_to_decrypt_secret,
                        "The secret specified in the pull through cache rule could not be decrypted.");
    }
    if (code == errc::invalid_request) {
      return make_error(errc::unable_to_access_secret,
                        "The secret specified in the pull through cache rule is scheduled for deletion.");
    }
    return v.take_error();
  }
  auto doc = nlohmann::json::parse(v->value.bytes, nullptr, false);
  if (v->value.binary || !doc.is_object() || !doc.contains("username") || !doc["username"].is_string() ||
      !doc.contains("accessToken") || !doc["accessToken"].is_string()) {
    return make_error(errc::unable_to_access_secret,
                      "The secret specified in the pull through cache rule must be a JSON object with the string "
                      "members username and accessToken.");
  }
  return std::optional<upstream_credentials>(
      upstream_credentials{doc["username"].get<std::string>(), doc["accessToken"].get<std::string>()});
}

result<pull_through_rule> pull_through_rules::create(pull_through_rule r) {
  r.prefix = normalized(r.prefix);
  r.upstream_prefix = r.upstream_prefix.empty() ? std::string("ROOT") : normalized(r.upstream_prefix);
  if (r.prefix == "ROOT" && r.upstream_prefix != "ROOT") {
    return make_error(errc::invalid_parameter,
                      "Invalid parameter: upstreamRepositoryPrefix can only be set with an ecrRepositoryPrefix other "
                      "than ROOT");
  }
  if (!valid_upstream_url(r.upstream_url)) {
    return make_error(errc::unsupported_upstream_registry,
                      "The upstream registry URL " + r.upstream_url +
                          " is invalid. Specify a valid upstream registry URL and try again");
  }
  const auto known = registry_kind_of(r.upstream_url);
  if (r.upstream_registry.empty()) {
    r.upstream_registry = known;
  } else if (!known.empty() && known != r.upstream_registry) {
    return make_error(errc::unsupported_upstream_registry, "The specified upstream registry isn't supported.");
  }
  if (needs_credentials(r.upstream_registry) && r.credential_arn.empty()) {
    return make_error(errc::unsupported_upstream_registry,
                      "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN "
                      "and try again.");
  }
  if (auto c = credentials(r); !c) return c.take_error();
  auto existing = all();
  if (!existing) return existing.take_error();
  if (existing->size() >= max_pull_through_rules) {
    return make_error(errc::limit_exceeded, "The maximum number of pull through cache rules (" +
                                                std::to_string(max_pull_through_rules) +
                                                ") for this registry has been reached.");
  }
  r.created_at = r.updated_at = clock_.now_seconds();
  auto stored = backends_.meta.settings().put_pull_through_rule(to_row(r), true);
  if (!stored) {
    if (stored.error_value().code == errc::pull_through_rule_already_exists) {
      return make_error(errc::pull_through_rule_already_exists,
                        "A pull through cache rule with these settings already exists for the private registry.");
    }
    return stored.take_error();
  }
  ++changes_;
  return r;
}

result<std::vector<pull_through_rule>> pull_through_rules::all() {
  auto rows = backends_.meta.settings().pull_through_rules();
  if (!rows) return rows.take_error();
  std::vector<pull_through_rule> out;
  for (const auto& row : *rows) out.push_back(from_row(row));
  return out;
}

result<pull_through_rule> pull_through_rules::find(const std::string& prefix) {
  auto rules = all();
  if (!rules) return rules.take_error();
  const auto p = normalized(prefix);
  for (auto& r : *rules)
    if (r.prefix == p) return std::move(r);
  return rule_not_found();
}

result<pull_through_rule> pull_through_rules::update(const std::string& prefix, const std::string& credential_arn,
                                                     const std::string& custom_role_arn) {
  if (credential_arn.empty() && custom_role_arn.empty()) {
    return make_error(errc::invalid_parameter,
                      "Invalid input: Please set either credential arn or role arn to update the credentials");
  }
  auto r = find(prefix);
  if (!r) return r.take_error();
  if (!credential_arn.empty()) r->credential_arn = credential_arn;
  if (!custom_role_arn.empty()) r->custom_role_arn = custom_role_arn;
  if (auto c = credentials(*r); !c) return c.take_error();
  r->updated_at = clock_.now_seconds();
  auto stored = backends_.meta.settings().put_pull_through_rule(to_row(*r), false);
  if (!stored) {
    if (stored.error_value().code == errc::pull_through_rule_not_found) return rule_not_found();
    return stored.take_error();
  }
  ++changes_;
  return r;
}

result<pull_through_rule> pull_through_rules::remove(const std::string& prefix) {
  auto r = find(prefix);
  if (!r) return r.take_error();
  auto removed = backends_.meta.settings().delete_pull_through_rule(r->prefix);
  if (!removed) return removed.take_error();
  if (!*removed) return rule_not_found();
  ++changes_;
  return r;
}

result<std::string> pull_through_rules::validate(const std::string& prefix, upstream_probe* probe) {
  auto r = find(prefix);
  if (!r) return r.take_error();
  auto c = credentials(*r);
  if (!c) return c.error_value().message;
  if (!probe) return std::string();
  return probe->check(*r, *c);
}

result<std::optional<upstream_target>> pull_through_rules::covering(const std::string& repository) {
  auto rules = all();
  if (!rules) return rules.take_error();
  return match(*rules, repository);
}

std::optional<upstream_target> pull_through_rules::match(const std::vector<pull_through_rule>& rules,
                                                         const std::string& repository) {
  const pull_through_rule* best = nullptr;
  for (const auto& r : rules) {
    if (r.prefix == "ROOT") {
      if (!best) best = &r;
    } else if (repository.size() > r.prefix.size() + 1 && repository.starts_with(r.prefix) &&
               repository[r.prefix.size()] == '/') {
      if (!best || best->prefix == "ROOT" || r.prefix.size() > best->prefix.size()) best = &r;
    }
  }
  if (!best) return std::nullopt;
  auto rest = best->prefix == "ROOT" ? repository : repository.substr(best->prefix.size() + 1);
  auto name = best->upstream_prefix == "ROOT" ? rest : best->upstream_prefix + "/" + rest;
  return upstream_target{*best, std::move(name)};
}

}  // namespace berth
