#include "berth/registry/resource_policies.hpp"

#include <nlohmann/json.hpp>

#include "berth/meta/metadata_store.hpp"
#include "berth/policy/policy_document.hpp"
#include "policy_principals.hpp"

namespace berth {
namespace {

error invalid(const std::string& field, bool registry_policy, const std::string& why = "") {
  return make_error(errc::malformed_policy_document,
                    "Invalid parameter at '" + field + "' failed to satisfy constraint: '" +
                        (why.empty() ? std::string(registry_policy ? "Invalid registry policy provided"
                                                                   : "Invalid repository policy provided")
                                     : why) +
                        "'");
}

}  // namespace

result<std::string> bind_policy_principals(meta::identity_index& identities, const std::string& account_id_,
                                           const std::string& text, bool registry_policy, const std::string& field) {
  if (text.empty() || text.size() > policy::max_resource_policy_length) return invalid(field, registry_policy);
  auto doc = policy::parse(text, registry_policy ? policy::document_kind::registry : policy::document_kind::repository);
  if (!doc) return invalid(field, registry_policy);
  // IAM refuses principals that do not exist; in this account, that is a user Berth does not know.
  const std::string own_users = "arn:aws:iam::" + account_id_ + ":user/";
  nlohmann::json ids = nlohmann::json::object();
  for (const auto& st : doc->statements) {
    if (!st.principal) continue;
    for (const auto& p : st.principal->aws) {
      if (!p.starts_with(own_users) || p.find_first_of("*?") != std::string::npos) continue;
      // The whole ARN must name the user: its path as well as its name.
      const auto name = p.substr(p.rfind('/') + 1);
      const auto path = p.substr(own_users.size() - 1, p.size() - name.size() - own_users.size() + 1);
      auto u = identities.find_user(name);
      if (!u) return u.take_error();
      if (!*u || (*u)->path != path || (*u)->name != name) {
        return invalid(field, registry_policy, "Principal not found");
      }
      ids[p] = (*u)->user_id;
    }
  }
  return ids.dump();
}

result<std::string> resource_policies::validate(const std::string& text, bool registry_policy,
                                                const std::string& field) {
  return bind_policy_principals(backends_.meta.identities(), account_id_, text, registry_policy, field);
}

result<void> resource_policies::set_repository_policy(const std::string& repository, const std::string& text) {
  auto ids = validate(text, false);
  if (!ids) return ids.take_error();
  return backends_.meta.identities().put_repository_policy(
      repository, meta::stored_policy{text, clock_.now_seconds(), std::move(*ids)});
}

result<std::string> resource_policies::repository_policy(const std::string& repository) {
  auto stored = backends_.meta.identities().repository_policy(repository);
  if (!stored) return stored.take_error();
  if (!*stored) {
    return make_error(errc::repository_policy_not_found,
                      "Repository policy does not exist for the repository with name '" + repository +
                          "' in the registry with id '" + account_id_ + "'");
  }
  return std::move((*stored)->document);
}

result<std::string> resource_policies::delete_repository_policy(const std::string& repository) {
  auto text = repository_policy(repository);
  if (!text) return text;
  auto removed = backends_.meta.identities().delete_repository_policy(repository);
  if (!removed) return removed.take_error();
  return text;
}

result<void> resource_policies::put_registry_policy(const std::string& text) {
  auto ids = validate(text, true);
  if (!ids) return ids.take_error();
  return backends_.meta.identities().put_registry_policy(
      meta::stored_policy{text, clock_.now_seconds(), std::move(*ids)});
}

result<std::string> resource_policies::registry_policy() {
  auto stored = backends_.meta.identities().registry_policy();
  if (!stored) return stored.take_error();
  if (!*stored) {
    return make_error(errc::registry_policy_not_found,
                      "Registry policy does not exist in the registry with id '" + account_id_ + "'");
  }
  return std::move((*stored)->document);
}

result<std::string> resource_policies::delete_registry_policy() {
  auto text = registry_policy();
  if (!text) return text;
  auto removed = backends_.meta.identities().delete_registry_policy();
  if (!removed) return removed.take_error();
  return text;
}

}  // namespace berth
