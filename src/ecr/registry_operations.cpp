// GetAuthorizationToken, DescribeRegistry, Get/PutAccountSetting and the repository creation
// templates (Create/Describe/Update/DeleteRepositoryCreationTemplate).
#include "berth/policy/policy_document.hpp"
#include "operations.hpp"

namespace berth::ecr {
namespace {

constexpr const char* template_fields[] = {"prefix",       "description",        "encryptionConfiguration",
                                           "resourceTags", "imageTagMutability", "imageTagMutabilityExclusionFilters",
                                           "appliedFor",   "customRoleArn"};

result<json> get_authorization_token(call_context& ctx, const json& in) {
  std::size_t count = 1;
  if (auto ids = in.find("registryIds"); ids != in.end() && ids->is_array()) {
    for (const auto& id : *ids) {
      if (id != ctx.settings.account_id) {
        return invalid_parameter(
            "Invalid parameter at 'registryIds' failed to satisfy constraint: 'must name this "
            "registry (" +
            ctx.settings.account_id + ")'");
      }
    }
    count = ids->size();
  }
  auto issued = ctx.tokens.issue(ctx.caller, ctx.now);
  json data = json::array();
  for (std::size_t i = 0; i < count; ++i) {
    data.push_back({{"authorizationToken", auth::base64_encode("AWS:" + issued.token)},
                    {"expiresAt", issued.expires_at},
                    {"proxyEndpoint", ctx.settings.scheme + "://" + ctx.host}});
  }
  return json{{"authorizationData", data}};
}

result<json> get_account_setting(call_context& ctx, const json& in) {
  auto name = str(in, "name");
  auto value = ctx.repos.account_setting(name);
  if (!value) return value.take_error();
  return json{{"name", name}, {"value", *value}};
}

result<json> put_account_setting(call_context& ctx, const json& in) {
  auto name = str(in, "name");
  auto value = str(in, "value");
  if (name == "BLOB_MOUNTING" && value != "ENABLED" && value != "DISABLED") {
    return invalid_parameter(
        "Invalid parameter at 'value' failed to satisfy constraint: 'must be ENABLED or DISABLED'");
  }
  if (name != "BLOB_MOUNTING") {
    return make_error(errc::unsupported_operation, "Berth supports only the BLOB_MOUNTING account setting");
  }
  if (auto r = ctx.repos.put_account_setting(name, value); !r) return r.take_error();
  return json{{"name", name}, {"value", value}};
}

json template_json(const template_info& row) {
  auto doc = json::parse(row.document, nullptr, false);
  if (!doc.is_object()) doc = json::object();
  doc["prefix"] = row.prefix;
  doc["createdAt"] = row.created_at;
  doc["updatedAt"] = row.updated_at;
  return doc;
}

result<void> check_template(call_context& ctx, const json& doc) {
  // The repository policy a created repository starts with, validated as SetRepositoryPolicy does.
  if (doc.contains("repositoryPolicy") && doc["repositoryPolicy"].is_string() &&
      !doc["repositoryPolicy"].get<std::string>().empty()) {
    const auto text = doc["repositoryPolicy"].get<std::string>();
    if (ctx.access.policies) {
      if (auto v = ctx.access.policies->validate(text, false, "repositoryPolicy"); !v) return v.take_error();
    } else if (!policy::parse(text, policy::document_kind::repository)) {
      return invalid_parameter(
          "Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'Invalid repository policy "
          "provided'");
    }
  }
  // A policy stored but not enforced would be a lie: this one comes with its enforcement.
  for (auto key : {"lifecyclePolicy"}) {
    if (doc.contains(key) && !doc[key].is_null() && !doc[key].get<std::string>().empty()) {
      return make_error(errc::unsupported_operation,
                        std::string("Berth does not enforce ") + key + " in repository creation templates yet");
    }
  }
  auto mutability = doc.value("imageTagMutability", std::string("MUTABLE"));
  bool with_exclusion = mutability.ends_with("_WITH_EXCLUSION");
  bool has_filters = doc.contains("imageTagMutabilityExclusionFilters") &&
                     doc["imageTagMutabilityExclusionFilters"].is_array() &&
                     !doc["imageTagMutabilityExclusionFilters"].empty();
  if (with_exclusion != has_filters) {
    return invalid_parameter(
        "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
        "'required exactly with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION'");
  }
  return {};
}

result<template_info> find_template(call_context& ctx, const std::string& prefix) {
  return ctx.repos.find_template(prefix);
}

result<json> create_template(call_context& ctx, const json& in) {
  json doc = json::object();
  for (auto f : template_fields) {
    if (in.contains(f)) doc[f] = in[f];
  }
  if (auto r = check_template(ctx, in); !r) return r.take_error();
  auto prefix = str(in, "prefix");
  if (auto r = ctx.repos.put_template(prefix, doc.dump(), true); !r) return r.take_error();
  auto row = find_template(ctx, prefix);
  if (!row) return row.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"repositoryCreationTemplate", template_json(*row)}};
}

result<json> update_template(call_context& ctx, const json& in) {
  auto prefix = str(in, "prefix");
  auto row = find_template(ctx, prefix);
  if (!row) return row.take_error();
  auto doc = json::parse(row->document, nullptr, false);
  if (!doc.is_object()) doc = json::object();
  for (auto f : template_fields) {
    if (in.contains(f)) doc[f] = in[f];
  }
  if (in.contains("imageTagMutability") && !str(in, "imageTagMutability").ends_with("_WITH_EXCLUSION") &&
      !in.contains("imageTagMutabilityExclusionFilters")) {
    doc.erase("imageTagMutabilityExclusionFilters");
  }
  if (auto r = check_template(ctx, doc); !r) return r.take_error();
  if (auto r = check_template(ctx, in); !r) return r.take_error();
  if (auto r = ctx.repos.put_template(prefix, doc.dump(), false); !r) return r.take_error();
  auto updated = find_template(ctx, prefix);
  if (!updated) return updated.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"repositoryCreationTemplate", template_json(*updated)}};
}

result<json> delete_template(call_context& ctx, const json& in) {
  auto prefix = str(in, "prefix");
  auto row = find_template(ctx, prefix);
  if (!row) return row.take_error();
  if (auto r = ctx.repos.delete_template(prefix); !r) return r.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"repositoryCreationTemplate", template_json(*row)}};
}

result<json> describe_templates(call_context& ctx, const json& in) {
  auto all = ctx.repos.templates();
  if (!all) return all.take_error();
  std::vector<std::string> wanted;
  if (auto p = in.find("prefixes"); p != in.end() && p->is_array()) {
    for (const auto& x : *p) wanted.push_back(x.get<std::string>());
  }
  std::vector<const template_info*> selected;
  for (const auto& t : *all) {
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), t.prefix) != wanted.end()) selected.push_back(&t);
  }
  json out_list = json::array();
  auto next = fill_page(
      in, 100, selected, [](const auto* t) { return t->prefix; },
      [&](const auto* t) { out_list.push_back(template_json(*t)); });
  if (!next) return next.take_error();
  for (const auto& w : wanted) {
    bool found = false;
    for (const auto& t : *all) found = found || t.prefix == w;
    if (!found) {
      return make_error(errc::template_not_found, "The repository creation template with prefix '" + w +
                                                      "' does not exist in the registry with id '" +
                                                      ctx.settings.account_id + "'");
    }
  }
  json out = {{"registryId", ctx.settings.account_id}, {"repositoryCreationTemplates", out_list}};
  if (!next->empty()) out["nextToken"] = *next;
  return out;
}

}  // namespace

void add_registry_operations(std::map<std::string, operation>& t) {
  t["GetAuthorizationToken"] = get_authorization_token;
  t["GetAccountSetting"] = get_account_setting;
  t["PutAccountSetting"] = put_account_setting;
  t["CreateRepositoryCreationTemplate"] = create_template;
  t["UpdateRepositoryCreationTemplate"] = update_template;
  t["DeleteRepositoryCreationTemplate"] = delete_template;
  t["DescribeRepositoryCreationTemplates"] = describe_templates;
}

}  // namespace berth::ecr
