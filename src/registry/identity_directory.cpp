#include "berth/registry/identity_directory.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "berth/core/names.hpp"
#include "berth/meta/metadata_store.hpp"
#include "berth/policy/policy_document.hpp"

namespace berth {
namespace {

constexpr std::string_view id_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view secret_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// IAM's ValidationError wording (the Coral validation message).
error invalid(const std::string& value, const std::string& field, const std::string& constraint) {
  return make_error(errc::invalid_parameter, "1 validation error detected: Value '" + value + "' at '" + field +
                                                 "' failed to satisfy constraint: " + constraint);
}

result<void> check_name(const std::string& value, const std::string& field, std::size_t max) {
  if (value.empty()) return invalid(value, field, "Member must have length greater than or equal to 1");
  if (value.size() > max) {
    return invalid(value, field, "Member must have length less than or equal to " + std::to_string(max));
  }
  for (unsigned char c : value) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && std::string_view("+=,.@-").find(static_cast<char>(c)) == std::string_view::npos) {
      return invalid(value, field, "Member must satisfy regular expression pattern: [\\w+=,.@-]+");
    }
  }
  return {};
}

result<void> check_path(const std::string& path, const std::string& field) {
  if (path.size() > 512) return invalid(path, field, "Member must have length less than or equal to 512");
  bool ok = path == "/" || (path.size() >= 3 && path.front() == '/' && path.back() == '/');
  for (unsigned char c : path) ok = ok && c >= 0x21 && c <= 0x7e;
  if (!ok) {
    return invalid(path, field,
                   "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)");
  }
  return {};
}

const char* kind_of(policy_owner o) {
  switch (o) {
    case policy_owner::user: return "user";
    case policy_owner::group: return "group";
  }
  return "user";
}

}  // namespace

std::string identity_directory::user_arn(const std::string& path, const std::string& name) const {
  return "arn:aws:iam::" + account_id_ + ":user" + path + name;
}

namespace {
user_info info_of(const meta::user_row& u, std::string arn) {
  return user_info{u.name, u.path, u.user_id, std::move(arn), u.created_at, u.basic_pull};
}
}  // namespace

result<user_info> identity_directory::create_user(const std::string& name, const std::string& path, bool basic_pull) {
  if (auto v = check_name(name, "userName", 64); !v) return v.take_error();
  if (auto v = check_path(path, "path"); !v) return v.take_error();
  auto same = [&](const std::string& other) {
    return other.size() == name.size() && std::equal(other.begin(), other.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
  };
  if (same("root") || std::any_of(reserved_.begin(), reserved_.end(), same)) {
    return make_error(errc::entity_already_exists, "User with name " + name + " already exists.");
  }
  meta::user_row u{name, path, "AIDA" + random_text(id_alphabet, 17), clock_.now_seconds(), basic_pull};
  if (auto r = backends_.meta.identities().create_user(u); !r) return r.take_error();
  return info_of(u, user_arn(path, name));
}

result<user_info> identity_directory::user(const std::string& name) {
  auto u = backends_.meta.identities().find_user(name);
  if (!u) return u.take_error();
  if (!*u) return make_error(errc::no_such_entity, "The user with name " + name + " cannot be found.");
  return info_of(**u, user_arn((*u)->path, (*u)->name));
}

result<std::vector<user_info>> identity_directory::users(const std::string& path_prefix, const std::string& after,
                                                         std::size_t limit) {
  auto rows = backends_.meta.identities().list_users(path_prefix.empty() ? "/" : path_prefix, after, limit);
  if (!rows) return rows.take_error();
  std::vector<user_info> out;
  for (const auto& u : *rows) out.push_back(info_of(u, user_arn(u.path, u.name)));
  return out;
}

result<void> identity_directory::set_basic_pull(const std::string& name, bool on) {
  return backends_.meta.identities().set_basic_pull(name, on);
}

result<void> identity_directory::delete_user(const std::string& name) {
  return backends_.meta.identities().delete_user(name);
}

result<access_key_info> identity_directory::create_access_key(const std::string& user) {
  auto u = this->user(user);
  if (!u) return u.take_error();
  access_key_info k{u->name, "AKIA" + random_text(id_alphabet, 16), "Active", clock_.now_seconds(),
                    random_text(secret_alphabet, 40)};
  meta::access_key_row row{k.access_key_id, u->name, sealer_.seal(k.secret_access_key, k.access_key_id), k.status,
                           k.created_at};
  if (auto r = backends_.meta.identities().create_access_key(row, max_access_keys_per_user); !r) {
    return r.take_error();
  }
  return k;
}

result<std::vector<access_key_info>> identity_directory::access_keys(const std::string& user) {
  auto rows = backends_.meta.identities().access_keys(user);
  if (!rows) return rows.take_error();
  std::vector<access_key_info> out;
  for (const auto& k : *rows) out.push_back(access_key_info{k.user_name, k.access_key_id, k.status, k.created_at, ""});
  return out;
}

result<void> identity_directory::update_access_key(const std::string& user, const std::string& access_key_id,
                                                   const std::string& status) {
  if (status != "Active" && status != "Inactive") {
    return invalid(status, "status", "Member must satisfy enum value set: [Active, Inactive]");
  }
  return backends_.meta.identities().set_access_key_status(user, access_key_id, status);
}

result<void> identity_directory::delete_access_key(const std::string& user, const std::string& access_key_id) {
  return backends_.meta.identities().delete_access_key(user, access_key_id);
}

result<std::string> identity_directory::owner_of_key(const std::string& access_key_id) {
  auto k = backends_.meta.identities().find_access_key(access_key_id);
  if (!k) return k.take_error();
  if (!*k) return make_error(errc::no_such_entity, "The Access Key with id " + access_key_id + " cannot be found.");
  return (*k)->user_name;
}

result<void> identity_directory::put_policy(policy_owner owner, const std::string& owner_name,
                                            const std::string& policy_name, const std::string& document) {
  if (auto v = check_name(policy_name, "policyName", 128); !v) return v.take_error();
  if (document.size() > policy::max_identity_policy_length) {
    return invalid("", "policyDocument", "Member must have length less than or equal to 131072");
  }
  if (auto d = policy::parse(document, policy::document_kind::identity); !d) return d.take_error();
  return backends_.meta.identities().put_policy(kind_of(owner), owner_name, meta::named_policy{policy_name, document});
}

result<std::string> identity_directory::policy(policy_owner owner, const std::string& owner_name,
                                               const std::string& policy_name) {
  auto p = backends_.meta.identities().get_policy(kind_of(owner), owner_name, policy_name);
  if (!p) return p.take_error();
  return std::move(p->document);
}

result<std::vector<std::string>> identity_directory::policy_names(policy_owner owner, const std::string& owner_name) {
  return backends_.meta.identities().policy_names(kind_of(owner), owner_name);
}

result<void> identity_directory::delete_policy(policy_owner owner, const std::string& owner_name,
                                               const std::string& policy_name) {
  return backends_.meta.identities().delete_policy(kind_of(owner), owner_name, policy_name);
}

result<group_info> identity_directory::create_group(const std::string& name, const std::string& path) {
  if (auto v = check_name(name, "groupName", 128); !v) return v.take_error();
  if (auto v = check_path(path, "path"); !v) return v.take_error();
  meta::group_row g{name, path, "AGPA" + random_text(id_alphabet, 17), clock_.now_seconds()};
  if (auto r = backends_.meta.identities().create_group(g); !r) return r.take_error();
  return group_info{g.name, g.path, g.group_id, "arn:aws:iam::" + account_id_ + ":group" + path + name, g.created_at};
}

result<group_info> identity_directory::group(const std::string& name) {
  auto g = backends_.meta.identities().find_group(name);
  if (!g) return g.take_error();
  if (!*g) return make_error(errc::no_such_entity, "The group with name " + name + " cannot be found.");
  return group_info{(*g)->name, (*g)->path, (*g)->group_id,
                    "arn:aws:iam::" + account_id_ + ":group" + (*g)->path + (*g)->name, (*g)->created_at};
}

result<std::vector<user_info>> identity_directory::group_members(const std::string& name) {
  auto rows = backends_.meta.identities().users_of_group(name);
  if (!rows) return rows.take_error();
  std::vector<user_info> out;
  for (const auto& u : *rows) out.push_back(info_of(u, user_arn(u.path, u.name)));
  return out;
}

result<std::vector<group_info>> identity_directory::groups_of(const std::string& user) {
  auto rows = backends_.meta.identities().groups_of_user(user);
  if (!rows) return rows.take_error();
  std::vector<group_info> out;
  for (const auto& g : *rows) {
    out.push_back(group_info{g.name, g.path, g.group_id, "arn:aws:iam::" + account_id_ + ":group" + g.path + g.name,
                             g.created_at});
  }
  return out;
}

result<void> identity_directory::add_user_to_group(const std::string& group, const std::string& user) {
  return backends_.meta.identities().add_user_to_group(group, user);
}

result<void> identity_directory::remove_user_from_group(const std::string& group, const std::string& user) {
  return backends_.meta.identities().remove_user_from_group(group, user);
}

result<void> identity_directory::delete_group(const std::string& name) {
  return backends_.meta.identities().delete_group(name);
}

namespace {
// ECR's PrincipalArn: arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*
bool is_principal_arn(const std::string& arn) {
  if (arn.size() > 200) return false;
  auto rest = std::string_view(arn);
  if (!rest.starts_with("arn:aws")) return false;
  auto iam = rest.find(":iam::");
  if (iam == std::string_view::npos) return false;
  auto partition = rest.substr(7, iam - 7);
  if (!partition.empty() && (partition[0] != '-' || partition.size() < 2)) return false;
  for (char c : partition.substr(partition.empty() ? 0 : 1))
    if (c < 'a' || c > 'z') return false;
  rest = rest.substr(iam + 6);
  if (rest.size() < 13 || rest[12] != ':') return false;
  for (char c : rest.substr(0, 12))
    if (c < '0' || c > '9') return false;
  rest = rest.substr(13);
  if (!rest.starts_with("user/") && !rest.starts_with("role/")) return false;
  rest = rest.substr(5);
  if (rest.empty() || rest.front() == '/' || rest.back() == '/' || rest.find("//") != std::string_view::npos)
    return false;
  for (unsigned char c : rest) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && std::string_view("+=,.@-/").find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}
}  // namespace

result<std::int64_t> identity_directory::add_pull_exclusion(const std::string& principal_arn) {
  if (!is_principal_arn(principal_arn)) {
    return make_error(errc::invalid_parameter,
                      "Invalid parameter at 'principalArn' failed to satisfy constraint: 'must be an IAM user or "
                      "role ARN'");
  }
  const auto now = clock_.now_seconds();
  auto r = backends_.meta.identities().add_pull_exclusion(principal_arn, now);
  if (!r && r.error_value().code == errc::entity_already_exists) {
    return make_error(errc::exclusion_already_exists,
                      "The principal '" + principal_arn + "' is already excluded from pull time updates");
  }
  if (!r) return r.take_error();
  return now;
}

result<void> identity_directory::remove_pull_exclusion(const std::string& principal_arn) {
  auto r = backends_.meta.identities().remove_pull_exclusion(principal_arn);
  if (!r && r.error_value().code == errc::no_such_entity) {
    return make_error(errc::exclusion_not_found,
                      "The principal '" + principal_arn + "' is not excluded from pull time updates");
  }
  return r;
}

result<std::vector<std::string>> identity_directory::pull_exclusions() {
  return backends_.meta.identities().pull_exclusions();
}

}  // namespace berth
