// IAM users and access keys; STS GetCallerIdentity.
#include "berth/core/utc_time.hpp"
#include "query_operations.hpp"

namespace berth::iam {
namespace {

void write_user(xml_writer& out, const user_info& u) {
  out.open("User");
  out.leaf("Path", u.path).leaf("UserName", u.name).leaf("UserId", u.user_id).leaf("Arn", u.arn);
  out.leaf("CreateDate", utc_iso8601(u.created_at));
  out.close("User");
}

result<void> create_user(query_call& c) {
  auto name = required(c, "UserName", "userName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, "iam:CreateUser", user_arn_of(c, *name)); !a) return a;
  auto u = c.directory.create_user(*name, optional_param(c, "Path", "/"));
  if (!u) return u.take_error();
  write_user(c.out, *u);
  return {};
}

result<void> get_user(query_call& c) {
  auto it = c.in.find("UserName");
  if (it == c.in.end() && c.caller.full_access) {
    // Root (or a configured user) asking about itself: what IAM says of the account's root.
    c.out.open("User");
    c.out.leaf("UserId", c.caller.user_id).leaf("Arn", c.caller.arn);
    if (!c.caller.root) c.out.leaf("Path", "/").leaf("UserName", c.caller.name);
    c.out.leaf("CreateDate", utc_iso8601(0)).close("User");
    return {};
  }
  const std::string name = it == c.in.end() ? c.caller.name : it->second;
  if (auto a = authorize(c, "iam:GetUser", user_arn_of(c, name)); !a) return a;
  auto u = c.directory.user(name);
  if (!u) return u.take_error();
  write_user(c.out, *u);
  return {};
}

result<void> list_users(query_call& c) {
  if (auto a = authorize(c, "iam:ListUsers", user_arn_of(c, "*")); !a) return a;
  auto p = read_page(c);
  if (!p) return p.take_error();
  auto users = c.directory.users(optional_param(c, "PathPrefix", "/"), p->after, p->limit + 1);
  if (!users) return users.take_error();
  const bool truncated = users->size() > p->limit;
  if (truncated) users->resize(p->limit);
  c.out.open("Users");
  for (const auto& u : *users) {
    c.out.open("member");
    c.out.leaf("Path", u.path).leaf("UserName", u.name).leaf("UserId", u.user_id).leaf("Arn", u.arn);
    c.out.leaf("CreateDate", utc_iso8601(u.created_at)).close("member");
  }
  c.out.close("Users");
  write_truncation(c.out, truncated, truncated ? users->back().name : std::string());
  return {};
}

result<void> delete_user(query_call& c) {
  auto name = required(c, "UserName", "userName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, "iam:DeleteUser", user_arn_of(c, *name)); !a) return a;
  return c.directory.delete_user(*name);
}

result<void> create_access_key(query_call& c) {
  auto user = user_or_caller(c);
  if (!user) return user.take_error();
  if (auto a = authorize(c, "iam:CreateAccessKey", user_arn_of(c, *user)); !a) return a;
  auto k = c.directory.create_access_key(*user);
  if (!k) return k.take_error();
  c.out.open("AccessKey");
  c.out.leaf("UserName", k->user_name).leaf("AccessKeyId", k->access_key_id).leaf("Status", k->status);
  c.out.leaf("SecretAccessKey", k->secret_access_key).leaf("CreateDate", utc_iso8601(k->created_at));
  c.out.close("AccessKey");
  return {};
}

result<void> list_access_keys(query_call& c) {
  auto user = user_or_caller(c);
  if (!user) return user.take_error();
  if (auto a = authorize(c, "iam:ListAccessKeys", user_arn_of(c, *user)); !a) return a;
  auto p = read_page(c);
  if (!p) return p.take_error();
  auto keys = c.directory.access_keys(*user);
  if (!keys) return keys.take_error();
  c.out.open("AccessKeyMetadata");
  std::size_t n = 0;
  std::string last;
  bool truncated = false;
  for (const auto& k : *keys) {
    if (!p->after.empty() && k.access_key_id <= p->after) continue;
    if (n == p->limit) {
      truncated = true;
      break;
    }
    c.out.open("member");
    c.out.leaf("UserName", k.user_name).leaf("AccessKeyId", k.access_key_id).leaf("Status", k.status);
    c.out.leaf("CreateDate", utc_iso8601(k.created_at)).close("member");
    last = k.access_key_id;
    ++n;
  }
  c.out.close("AccessKeyMetadata");
  write_truncation(c.out, truncated, last);
  return {};
}

result<void> update_access_key(query_call& c) {
  auto id = required(c, "AccessKeyId", "accessKeyId");
  if (!id) return id.take_error();
  auto status = required(c, "Status", "status");
  if (!status) return status.take_error();
  auto user = user_or_caller(c);
  if (!user) return user.take_error();
  if (auto a = authorize(c, "iam:UpdateAccessKey", user_arn_of(c, *user)); !a) return a;
  return c.directory.update_access_key(*user, *id, *status);
}

result<void> delete_access_key(query_call& c) {
  auto id = required(c, "AccessKeyId", "accessKeyId");
  if (!id) return id.take_error();
  auto user = user_or_caller(c);
  if (!user) return user.take_error();
  if (auto a = authorize(c, "iam:DeleteAccessKey", user_arn_of(c, *user)); !a) return a;
  return c.directory.delete_access_key(*user, *id);
}

// STS: who the signature says the caller is. Allowed to everyone, as in AWS.
result<void> get_caller_identity(query_call& c) {
  c.out.leaf("Arn", c.caller.arn).leaf("UserId", c.caller.user_id).leaf("Account", c.account_id);
  return {};
}

}  // namespace

void add_user_operations(std::map<std::string, operation_entry, std::less<>>& t) {
  t.emplace("CreateUser", operation_entry{create_user, "iam"});
  t.emplace("GetUser", operation_entry{get_user, "iam"});
  t.emplace("ListUsers", operation_entry{list_users, "iam"});
  t.emplace("DeleteUser", operation_entry{delete_user, "iam"});
  t.emplace("CreateAccessKey", operation_entry{create_access_key, "iam"});
  t.emplace("ListAccessKeys", operation_entry{list_access_keys, "iam"});
  t.emplace("UpdateAccessKey", operation_entry{update_access_key, "iam"});
  t.emplace("DeleteAccessKey", operation_entry{delete_access_key, "iam"});
  t.emplace("GetCallerIdentity", operation_entry{get_caller_identity, "sts"});
}

const std::map<std::string, operation_entry, std::less<>>& query_operations() {
  static const auto table = [] {
    std::map<std::string, operation_entry, std::less<>> t;
    add_user_operations(t);
    add_policy_operations(t);
    return t;
  }();
  return table;
}

}  // namespace berth::iam
