#include "berth/registry/repository_catalog.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "berth/meta/metadata_store.hpp"
#include "policy_principals.hpp"

namespace berth {
namespace {

using json = nlohmann::json;

repository_config config_from(const meta::repository_settings& s) {
  repository_config c;
  c.image_tag_mutability = s.image_tag_mutability;
  auto filters = json::parse(s.mutability_exclusions, nullptr, false);
  if (filters.is_array()) {
    for (const auto& f : filters) {
      if (f.is_string()) c.exclusion_filters.push_back(f.get<std::string>());
    }
  }
  c.scan_on_push = s.scan_on_push;
  c.encryption_type = s.encryption_type;
  c.kms_key = s.kms_key;
  return c;
}

meta::repository_settings settings_from(const repository_config& c) {
  meta::repository_settings s;
  s.image_tag_mutability = c.image_tag_mutability;
  s.mutability_exclusions = json(c.exclusion_filters).dump();
  s.scan_on_push = c.scan_on_push;
  s.encryption_type = c.encryption_type;
  s.kms_key = c.kms_key;
  return s;
}

repository_info info_from(const meta::repository_row& row) {
  return repository_info{row.name, row.created_at, config_from(row.settings)};
}

template_info template_from(const meta::template_row& t) {
  return template_info{t.prefix, t.document, t.created_at, t.updated_at};
}

}  // namespace

bool tag_is_immutable(const repository_config& config, const std::string& tag) {
  const auto& m = config.image_tag_mutability;
  if (m == "MUTABLE") return false;
  if (m == "IMMUTABLE") return true;
  bool excluded = false;
  for (const auto& f : config.exclusion_filters) excluded = excluded || wildcard_match(f, tag);
  if (m == "IMMUTABLE_WITH_EXCLUSION") return !excluded;
  if (m == "MUTABLE_WITH_EXCLUSION") return excluded;
  return false;
}

error repository_catalog::repository_not_found(const std::string& name) const {
  return make_error(errc::name_unknown, "The repository with name '" + name +
                                            "' does not exist in the registry with id '" + registry_id_ + "'");
}

error repository_catalog::template_not_found(const std::string& prefix) const {
  return make_error(errc::template_not_found, "The repository creation template with prefix '" + prefix +
                                                  "' does not exist in the registry with id '" + registry_id_ + "'");
}

result<repository_info> repository_catalog::create(const std::string& name, const repository_config& config,
                                                   const resource_tags& tags) {
  if (tags.size() > max_repository_tags) return make_error(errc::too_many_tags, "Too many tags on the repository");
  auto r = meta_.repositories().create(name, settings_from(config), tags, clock_.now_seconds());
  if (!r) {
    if (r.error_value().code == errc::repository_already_exists) {
      return make_error(
          errc::repository_already_exists,
          "The repository with name '" + name + "' already exists in the registry with id '" + registry_id_ + "'");
    }
    return r.take_error();
  }
  spdlog::info("created repository {}", name);
  return get(name);
}

result<repository_info> repository_catalog::get(const std::string& name) {
  auto row = meta_.repositories().find(name);
  if (!row) return row.take_error();
  if (!*row) return repository_not_found(name);
  return info_from(**row);
}

result<std::vector<repository_info>> repository_catalog::list(const std::string& after, std::size_t limit) {
  auto rows = meta_.repositories().list(after, limit);
  if (!rows) return rows.take_error();
  std::vector<repository_info> out;
  for (const auto& r : *rows) out.push_back(info_from(r));
  return out;
}

result<repository_info> repository_catalog::remove(const std::string& name, bool force) {
  auto row = meta_.repositories().remove(name, force);
  if (!row) {
    auto code = row.error_value().code;
    if (code == errc::name_unknown) return repository_not_found(name);
    if (code == errc::repository_not_empty) {
      return make_error(errc::repository_not_empty, "The repository with name '" + name + "' in registry with id '" +
                                                        registry_id_ +
                                                        "' cannot be deleted because it still contains images");
    }
    return row.take_error();
  }
  spdlog::info("deleted repository {}{}", name, force ? " (force)" : "");
  return info_from(*row);
}

result<repository_info> repository_catalog::update(const std::string& name, const repository_config& config) {
  auto r = meta_.repositories().update_settings(name, settings_from(config));
  if (!r) {
    if (r.error_value().code == errc::name_unknown) return repository_not_found(name);
    return r.take_error();
  }
  return get(name);
}

result<resource_tags> repository_catalog::tags(const std::string& name) {
  auto t = meta_.repositories().tags(name);
  if (!t && t.error_value().code == errc::name_unknown) return repository_not_found(name);
  return t;
}

result<void> repository_catalog::tag(const std::string& name, const resource_tags& tags) {
  auto r = meta_.repositories().tag(name, tags, max_repository_tags);
  if (!r) {
    if (r.error_value().code == errc::name_unknown) return repository_not_found(name);
    if (r.error_value().code == errc::too_many_tags) {
      return make_error(errc::too_many_tags,
                        "A repository can have at most " + std::to_string(max_repository_tags) + " tags");
    }
  }
  return r;
}

result<void> repository_catalog::untag(const std::string& name, const std::vector<std::string>& keys) {
  auto r = meta_.repositories().untag(name, keys);
  if (!r && r.error_value().code == errc::name_unknown) return repository_not_found(name);
  return r;
}

result<void> repository_catalog::put_template(const std::string& prefix, const std::string& document, bool create) {
  auto now = clock_.now_seconds();
  auto r = meta_.settings().put_template(meta::template_row{prefix, document, now, now}, create);
  if (!r) {
    if (r.error_value().code == errc::template_already_exists) {
      return make_error(errc::template_already_exists, "The repository creation template with prefix '" + prefix +
                                                           "' already exists in the registry with id '" + registry_id_ +
                                                           "'");
    }
    if (r.error_value().code == errc::template_not_found) return template_not_found(prefix);
  }
  return r;
}

result<std::vector<template_info>> repository_catalog::templates() {
  auto rows = meta_.settings().templates();
  if (!rows) return rows.take_error();
  std::vector<template_info> out;
  for (const auto& t : *rows) out.push_back(template_from(t));
  return out;
}

result<template_info> repository_catalog::find_template(const std::string& prefix) {
  auto all = templates();
  if (!all) return all.take_error();
  for (auto& t : *all) {
    if (t.prefix == prefix) return std::move(t);
  }
  return template_not_found(prefix);
}

result<void> repository_catalog::delete_template(const std::string& prefix) {
  auto r = meta_.settings().delete_template(prefix);
  if (!r) return r.take_error();
  if (!*r) return template_not_found(prefix);
  return {};
}

result<repository_info> repository_catalog::from_template(const std::string& name, const std::string& prefix,
                                                          const std::string& document) {
  auto t = json::parse(document, nullptr, false);
  repository_config c;
  resource_tags tags;
  if (t.is_object()) {
    c.image_tag_mutability = t.value("imageTagMutability", std::string("MUTABLE"));
    if (auto f = t.find("imageTagMutabilityExclusionFilters"); f != t.end() && f->is_array()) {
      for (const auto& e : *f) c.exclusion_filters.push_back(e.value("filter", std::string()));
    }
    if (auto e = t.find("encryptionConfiguration"); e != t.end() && e->is_object()) {
      c.encryption_type = e->value("encryptionType", std::string("AES256"));
      c.kms_key = e->value("kmsKey", std::string());
    }
    if (auto rt = t.find("resourceTags"); rt != t.end() && rt->is_array()) {
      for (const auto& e : *rt) tags.emplace_back(e.value("Key", std::string()), e.value("Value", std::string()));
    }
  }
  auto created = create(name, c, tags);
  if (!created && created.error_value().code == errc::repository_already_exists) return get(name);  // a racing push
  if (!created) return created;
  // The template's repository policy (validated when the template was written) comes with it.
  if (t.is_object() && t.contains("repositoryPolicy") && t["repositoryPolicy"].is_string() &&
      !t["repositoryPolicy"].get<std::string>().empty()) {
    // Validated when the template was written; the users it names are bound now.
    auto text = t["repositoryPolicy"].get<std::string>();
    auto ids = bind_policy_principals(meta_.identities(), registry_id_, text, false, "repositoryPolicy");
    if (!ids) return ids.take_error();
    if (auto r = meta_.identities().put_repository_policy(name, meta::stored_policy{text, clock_.now_seconds(), *ids});
        !r) {
      return r.take_error();
    }
  }
  spdlog::info("repository {} created on push from template '{}'", name, prefix);
  return created;
}

result<repository_info> repository_catalog::require_for_push(const std::string& name) {
  auto existing = meta_.repositories().find(name);
  if (!existing) return existing.take_error();
  if (*existing) return info_from(**existing);
  auto t = template_for(name, "CREATE_ON_PUSH");
  if (!t) return t.take_error();
  if (!*t) return repository_not_found(name);
  return from_template(name, (*t)->prefix, (*t)->document);
}

result<repository_info> repository_catalog::require_for_cache(const std::string& name) {
  auto existing = meta_.repositories().find(name);
  if (!existing) return existing.take_error();
  if (*existing) return info_from(**existing);
  auto t = template_for(name, "PULL_THROUGH_CACHE");
  if (!t) return t.take_error();
  auto made = *t ? from_template(name, (*t)->prefix, (*t)->document) : create(name, repository_config{}, {});
  if (!made && made.error_value().code == errc::repository_already_exists) return get(name);  // a concurrent pull
  return made;
}

result<std::optional<meta::template_row>> repository_catalog::template_for(const std::string& name,
                                                                           const char* applied_for) {
  auto all = meta_.settings().templates();
  if (!all) return all.take_error();
  const meta::template_row* best = nullptr;
  for (const auto& t : *all) {
    auto doc = json::parse(t.document, nullptr, false);
    bool on_push = false;
    if (doc.is_object() && doc.contains("appliedFor") && doc["appliedFor"].is_array()) {
      for (const auto& a : doc["appliedFor"]) on_push = on_push || a == applied_for;
    }
    if (!on_push) continue;
    bool matches =
        t.prefix == "ROOT" || name.starts_with(t.prefix.ends_with("/") ? t.prefix : t.prefix + "/") || name == t.prefix;
    if (!matches) continue;
    if (best == nullptr || best->prefix == "ROOT" || (t.prefix != "ROOT" && t.prefix.size() > best->prefix.size())) {
      best = &t;
    }
  }
  if (best == nullptr) return std::optional<meta::template_row>();
  return std::optional<meta::template_row>(*best);
}

result<std::string> repository_catalog::account_setting(const std::string& name) {
  // Berth keeps its own registry-wide data beside ECR's settings, under names ECR's never have.
  if (name.starts_with("berth:")) return make_error(errc::invalid_parameter, "Unknown account setting: " + name);
  auto v = meta_.settings().account_setting(name);
  if (!v) return v.take_error();
  if (*v) return **v;
  if (name == "BLOB_MOUNTING") return std::string("ENABLED");  // Berth's default differs from ECR's
  if (name == "BASIC_SCAN_TYPE_VERSION") return std::string("AWS_NATIVE");
  if (name == "REGISTRY_POLICY_SCOPE") return std::string("V2");
  return make_error(errc::invalid_parameter, "Unknown account setting: " + name);
}

result<void> repository_catalog::put_account_setting(const std::string& name, const std::string& value) {
  return meta_.settings().put_account_setting(name, value);
}

bool repository_catalog::blob_mounting_enabled() {
  auto v = account_setting("BLOB_MOUNTING");
  return !v || *v == "ENABLED";
}

}  // namespace berth
