// SetRepositoryPolicy, GetRepositoryPolicy, DeleteRepositoryPolicy, PutRegistryPolicy,
// GetRegistryPolicy, DeleteRegistryPolicy, and the pull-time update exclusions.
#include "berth/policy/policy_document.hpp"
#include "operations.hpp"

namespace berth::ecr {
namespace {

error repository_not_found(const call_context& ctx, const std::string& repo) {
  return make_error(errc::name_unknown, "The repository with name '" + repo +
                                            "' does not exist in the registry with id '" + ctx.settings.account_id +
                                            "'");
}

result<resource_policies*> policies_of(call_context& ctx) {
  if (ctx.access.policies == nullptr) {
    return make_error(errc::unsupported_operation, "Policies need authentication: Berth runs with auth: none");
  }
  return ctx.access.policies;
}

result<json> set_repository_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto policies = policies_of(ctx);
  if (!policies) return policies.take_error();
  const auto repo = str(in, "repositoryName");
  const auto text = str(in, "policyText");
  if (auto v = (*policies)->validate(text, false); !v) return v.take_error();
  if (!in.value("force", false) && ctx.access.control) {
    auto doc = policy::parse(text, policy::document_kind::repository);
    if (doc && ctx.access.control->locks_out(ctx.caller, repo, *doc)) {
      return invalid_parameter(
          "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The repository policy would prevent you "
          "from setting another policy in the future; set force to apply it'");
    }
  }
  if (auto r = (*policies)->set_repository_policy(repo, text); !r) {
    if (r.error_value().code == errc::name_unknown) return repository_not_found(ctx, repo);
    return r.take_error();
  }
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"policyText", text}};
}

template <bool Delete>
result<json> repository_policy(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto policies = policies_of(ctx);
  if (!policies) return policies.take_error();
  const auto repo = str(in, "repositoryName");
  auto text = Delete ? (*policies)->delete_repository_policy(repo) : (*policies)->repository_policy(repo);
  if (!text) {
    if (text.error_value().code == errc::name_unknown) return repository_not_found(ctx, repo);
    return text.take_error();
  }
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"policyText", *text}};
}

result<json> put_registry_policy(call_context& ctx, const json& in) {
  auto policies = policies_of(ctx);
  if (!policies) return policies.take_error();
  const auto text = str(in, "policyText");
  if (auto r = (*policies)->put_registry_policy(text); !r) return r.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"policyText", text}};
}

template <bool Delete>
result<json> registry_policy(call_context& ctx, const json&) {
  auto policies = policies_of(ctx);
  if (!policies) return policies.take_error();
  auto text = Delete ? (*policies)->delete_registry_policy() : (*policies)->registry_policy();
  if (!text) return text.take_error();
  return json{{"registryId", ctx.settings.account_id}, {"policyText", *text}};
}

result<identity_directory*> directory_of(call_context& ctx) {
  if (ctx.access.directory == nullptr) {
    return make_error(errc::unsupported_operation, "Pull-time exclusions need authentication: auth is none");
  }
  return ctx.access.directory;
}

result<json> register_exclusion(call_context& ctx, const json& in) {
  auto dir = directory_of(ctx);
  if (!dir) return dir.take_error();
  const auto arn = str(in, "principalArn");
  auto at = (*dir)->add_pull_exclusion(arn);
  if (!at) return at.take_error();
  return json{{"principalArn", arn}, {"createdAt", *at}};
}

result<json> deregister_exclusion(call_context& ctx, const json& in) {
  auto dir = directory_of(ctx);
  if (!dir) return dir.take_error();
  const auto arn = str(in, "principalArn");
  if (auto r = (*dir)->remove_pull_exclusion(arn); !r) return r.take_error();
  return json{{"principalArn", arn}};
}

result<json> list_exclusions(call_context& ctx, const json& in) {
  auto dir = directory_of(ctx);
  if (!dir) return dir.take_error();
  auto all = (*dir)->pull_exclusions();
  if (!all) return all.take_error();
  json page = json::array();
  auto next = fill_page(
      in, 100, *all, [](const std::string& arn) { return arn; }, [&](const std::string& arn) { page.push_back(arn); });
  if (!next) return next.take_error();
  json out = {{"pullTimeUpdateExclusions", page}};
  if (!next->empty()) out["nextToken"] = *next;
  return out;
}

}  // namespace

void add_policy_operations(std::map<std::string, operation>& t) {
  t["SetRepositoryPolicy"] = set_repository_policy;
  t["GetRepositoryPolicy"] = repository_policy<false>;
  t["DeleteRepositoryPolicy"] = repository_policy<true>;
  t["PutRegistryPolicy"] = put_registry_policy;
  t["GetRegistryPolicy"] = registry_policy<false>;
  t["DeleteRegistryPolicy"] = registry_policy<true>;
  t["RegisterPullTimeUpdateExclusion"] = register_exclusion;
  t["DeregisterPullTimeUpdateExclusion"] = deregister_exclusion;
  t["ListPullTimeUpdateExclusions"] = list_exclusions;
}

}  // namespace berth::ecr
