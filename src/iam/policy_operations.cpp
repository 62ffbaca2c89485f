// Inline policies of users and groups; groups and their members.
#include "berth/auth/sigv4.hpp"
#include "berth/core/utc_time.hpp"
#include "query_operations.hpp"

namespace berth::iam {
namespace {

std::string group_arn_of(const query_call& c, const std::string& name) {
  return "arn:aws:iam::" + c.account_id + ":group/" + name;
}

struct owner_params {
  policy_owner kind;
  const char* param;  // UserName | GroupName
  const char* field;  // userName | groupName
  const char* noun;   // User | Group: in the action names
};

constexpr owner_params user_owner{policy_owner::user, "UserName", "userName", "User"};
constexpr owner_params group_owner{policy_owner::group, "GroupName", "groupName", "Group"};

std::string owner_arn(const query_call& c, const owner_params& o, const std::string& name) {
  return o.kind == policy_owner::user ? user_arn_of(c, name) : group_arn_of(c, name);
}

template <const owner_params& O>
result<void> put_policy(query_call& c) {
  auto owner = required(c, O.param, O.field);
  if (!owner) return owner.take_error();
  auto name = required(c, "PolicyName", "policyName");
  if (!name) return name.take_error();
  auto doc = required(c, "PolicyDocument", "policyDocument");
  if (!doc) return doc.take_error();
  if (auto a = authorize(c, std::string("iam:Put") + O.noun + "Policy", owner_arn(c, O, *owner)); !a) return a;
  return c.directory.put_policy(O.kind, *owner, *name, *doc);
}

template <const owner_params& O>
result<void> get_policy(query_call& c) {
  auto owner = required(c, O.param, O.field);
  if (!owner) return owner.take_error();
  auto name = required(c, "PolicyName", "policyName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, std::string("iam:Get") + O.noun + "Policy", owner_arn(c, O, *owner)); !a) return a;
  auto doc = c.directory.policy(O.kind, *owner, *name);
  if (!doc) return doc.take_error();
  // IAM answers with the owner's name as stored.
  std::string stored = *owner;
  if (O.kind == policy_owner::user) {
    if (auto u = c.directory.user(*owner)) stored = u->name;
  } else if (auto g = c.directory.group(*owner)) {
    stored = g->name;
  }
  c.out.leaf(O.param, stored)
      .leaf("PolicyName", *name)
      .leaf("PolicyDocument", auth::uri_encode(*doc, false));  // RFC 3986, as IAM returns documents
  return {};
}

template <const owner_params& O>
result<void> list_policies(query_call& c) {
  auto owner = required(c, O.param, O.field);
  if (!owner) return owner.take_error();
  if (auto a = authorize(c, std::string("iam:List") + O.noun + "Policies", owner_arn(c, O, *owner)); !a) return a;
  auto p = read_page(c);
  if (!p) return p.take_error();
  auto names = c.directory.policy_names(O.kind, *owner);
  if (!names) return names.take_error();
  c.out.open("PolicyNames");
  std::size_t n = 0;
  std::string last;
  bool truncated = false;
  for (const auto& name : *names) {
    if (!p->after.empty() && name <= p->after) continue;
    if (n == p->limit) {
      truncated = true;
      break;
    }
    c.out.leaf("member", name);
    last = name;
    ++n;
  }
  c.out.close("PolicyNames");
  write_truncation(c.out, truncated, last);
  return {};
}

template <const owner_params& O>
result<void> delete_policy(query_call& c) {
  auto owner = required(c, O.param, O.field);
  if (!owner) return owner.take_error();
  auto name = required(c, "PolicyName", "policyName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, std::string("iam:Delete") + O.noun + "Policy", owner_arn(c, O, *owner)); !a) return a;
  return c.directory.delete_policy(O.kind, *owner, *name);
}

void write_group(xml_writer& out, const group_info& g) {
  out.leaf("Path", g.path).leaf("GroupName", g.name).leaf("GroupId", g.group_id).leaf("Arn", g.arn);
  out.leaf("CreateDate", utc_iso8601(g.created_at));
}

result<void> create_group(query_call& c) {
  auto name = required(c, "GroupName", "groupName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, "iam:CreateGroup", group_arn_of(c, *name)); !a) return a;
  auto g = c.directory.create_group(*name, optional_param(c, "Path", "/"));
  if (!g) return g.take_error();
  c.out.open("Group");
  write_group(c.out, *g);
  c.out.close("Group");
  return {};
}

result<void> get_group(query_call& c) {
  auto name = required(c, "GroupName", "groupName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, "iam:GetGroup", group_arn_of(c, *name)); !a) return a;
  auto g = c.directory.group(*name);
  if (!g) return g.take_error();
  auto p = read_page(c);
  if (!p) return p.take_error();
  auto members = c.directory.group_members(*name);
  if (!members) return members.take_error();
  c.out.open("Group");
  write_group(c.out, *g);
  c.out.close("Group").open("Users");
  std::size_t n = 0;
  std::string last;
  bool truncated = false;
  for (const auto& u : *members) {
    if (!p->after.empty() && u.name <= p->after) continue;
    if (n == p->limit) {
      truncated = true;
      break;
    }
    c.out.open("member");
    c.out.leaf("Path", u.path).leaf("UserName", u.name).leaf("UserId", u.user_id).leaf("Arn", u.arn);
    c.out.leaf("CreateDate", utc_iso8601(u.created_at)).close("member");
    last = u.name;
    ++n;
  }
  c.out.close("Users");
  write_truncation(c.out, truncated, last);
  return {};
}

result<void> delete_group(query_call& c) {
  auto name = required(c, "GroupName", "groupName");
  if (!name) return name.take_error();
  if (auto a = authorize(c, "iam:DeleteGroup", group_arn_of(c, *name)); !a) return a;
  return c.directory.delete_group(*name);
}

template <bool Add>
result<void> change_membership(query_call& c) {
  auto group = required(c, "GroupName", "groupName");
  if (!group) return group.take_error();
  auto user = required(c, "UserName", "userName");
  if (!user) return user.take_error();
  if (auto a = authorize(c, Add ? "iam:AddUserToGroup" : "iam:RemoveUserFromGroup", group_arn_of(c, *group)); !a) {
    return a;
  }
  return Add ? c.directory.add_user_to_group(*group, *user) : c.directory.remove_user_from_group(*group, *user);
}

result<void> list_groups_for_user(query_call& c) {
  auto user = required(c, "UserName", "userName");
  if (!user) return user.take_error();
  if (auto a = authorize(c, "iam:ListGroupsForUser", user_arn_of(c, *user)); !a) return a;
  auto p = read_page(c);
  if (!p) return p.take_error();
  auto groups = c.directory.groups_of(*user);
  if (!groups) return groups.take_error();
  c.out.open("Groups");
  std::size_t n = 0;
  std::string last;
  bool truncated = false;
  for (const auto& g : *groups) {
    if (!p->after.empty() && g.name <= p->after) continue;
    if (n == p->limit) {
      truncated = true;
      break;
    }
    c.out.open("member");
    write_group(c.out, g);
    c.out.close("member");
    last = g.name;
    ++n;
  }
  c.out.close("Groups");
  write_truncation(c.out, truncated, last);
  return {};
}

}  // namespace

void add_policy_operations(std::map<std::string, operation_entry, std::less<>>& t) {
  t.emplace("PutUserPolicy", operation_entry{put_policy<user_owner>, "iam"});
  t.emplace("GetUserPolicy", operation_entry{get_policy<user_owner>, "iam"});
  t.emplace("ListUserPolicies", operation_entry{list_policies<user_owner>, "iam"});
  t.emplace("DeleteUserPolicy", operation_entry{delete_policy<user_owner>, "iam"});
  t.emplace("PutGroupPolicy", operation_entry{put_policy<group_owner>, "iam"});
  t.emplace("GetGroupPolicy", operation_entry{get_policy<group_owner>, "iam"});
  t.emplace("ListGroupPolicies", operation_entry{list_policies<group_owner>, "iam"});
  t.emplace("DeleteGroupPolicy", operation_entry{delete_policy<group_owner>, "iam"});
  t.emplace("CreateGroup", operation_entry{create_group, "iam"});
  t.emplace("GetGroup", operation_entry{get_group, "iam"});
  t.emplace("DeleteGroup", operation_entry{delete_group, "iam"});
  t.emplace("AddUserToGroup", operation_entry{change_membership<true>, "iam"});
  t.emplace("RemoveUserFromGroup", operation_entry{change_membership<false>, "iam"});
  t.emplace("ListGroupsForUser", operation_entry{list_groups_for_user, "iam"});
}

}  // namespace berth::iam
