// berth user, berth key, berth policy: identities for operators without aws-cli, on the data of a
// running registry (the metadata serializes writers; a server sees a change on its next request).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "berth/auth/secret_sealer.hpp"
#include "berth/cli/commands.hpp"
#include "berth/cli/data_dir.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/cli/key_files.hpp"
#include "berth/registry/identity_directory.hpp"
#include "berth/registry/resource_policies.hpp"

namespace berth::cli {
namespace {

// What every identity command opens: the data directory (or fleet backends) of the config, and the
// key that seals access key secrets.
struct identity_context {
  std::unique_ptr<data_dir> dir;
  std::unique_ptr<auth::secret_sealer> sealer;
  std::unique_ptr<identity_directory> directory;
  std::unique_ptr<resource_policies> policies;
};

result<identity_context> open_identities(const config::flag_map& flags) {
  config::flag_map base;
  for (auto key : {"data-dir", "config"}) {
    if (auto it = flags.find(key); it != flags.end()) base[key] = it->second;
  }
  auto cfg = config::load(base);
  if (!cfg) return cfg.take_error();
  configure_logging("text", "warn");
  auto dir = open_data_dir(*cfg);
  if (!dir) return dir.take_error();
  auto key = load_or_create_sealing_key(*(*dir)->secrets);
  if (!key) return key.take_error();
  identity_context c;
  c.dir = std::move(dir).value();
  c.sealer = std::make_unique<auth::secret_sealer>(*key);
  std::vector<std::string> configured_names;
  for (const auto& u : cfg->users) configured_names.push_back(u.name);
  c.directory =
      std::make_unique<identity_directory>(c.dir->backends(), *c.sealer, c.dir->clk, cfg->account_id, configured_names);
  c.policies = std::make_unique<resource_policies>(c.dir->backends(), c.dir->clk, cfg->account_id);
  return c;
}

std::string value_of(const parsed_flags& f, const char* name, const std::string& fallback = "") {
  auto it = f.values.find(name);
  return it == f.values.end() ? fallback : it->second;
}

result<std::string> read_document(const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) return make_error(errc::invalid_parameter, "cannot read " + file);
    text << in.rdbuf();
  }
  return text.str();
}

constexpr const char* user_help =
    "Usage: berth user create --name NAME [--path /PATH/] [--basic-pull]\n"
    "       berth user list\n"
    "       berth user set --name NAME --basic-pull|--no-basic-pull\n"
    "       berth user delete --name NAME [--force]\n"
    "Common options: [--data-dir DIR] [--config FILE]\n\n"
    "IAM users, as `aws iam create-user` makes them. --basic-pull lets the user pull with HTTP Basic\n"
    "authentication using an access key id and secret (long-lived pull credentials; docs/security.md).\n"
    "delete --force first removes the user's keys, inline policies and group memberships.\n";

constexpr const char* key_help =
    "Usage: berth key create --user NAME\n"
    "       berth key list --user NAME\n"
    "       berth key update --user NAME --key AKIA... --status Active|Inactive\n"
    "       berth key delete --user NAME --key AKIA...\n"
    "Common options: [--data-dir DIR] [--config FILE]\n\n"
    "Access keys (at most 2 per user). A new secret is printed once and never again.\n";

constexpr const char* policy_help =
    "Usage: berth policy put (--user NAME | --group NAME) --name POLICY --file FILE|-\n"
    "       berth policy put (--repository NAME | --registry) --file FILE|-\n"
    "       berth policy get (--user NAME | --group NAME) --name POLICY\n"
    "       berth policy get (--repository NAME | --registry)\n"
    "       berth policy list (--user NAME | --group NAME)\n"
    "       berth policy delete (--user NAME | --group NAME) --name POLICY | (--repository NAME | --registry)\n"
    "Common options: [--data-dir DIR] [--config FILE]\n\n"
    "Identity policies of users and groups (IAM JSON), and repository and registry policies (ECR).\n";

int usage_of(const char* help, const std::vector<std::string>& args) {
  const bool asked = !args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help");
  std::fputs(help, asked ? stdout : stderr);
  return asked ? 0 : 2;
}

}  // namespace

int user_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-") || args[0] == "help") return usage_of(user_help, args);
  const auto& verb = args[0];
  auto f = parse_flags({args.begin() + 1, args.end()}, {"data-dir", "config", "name", "path"},
                       {"force", "basic-pull", "no-basic-pull"}, "user");
  if (!f) return fail(f.error_value().message);
  if (f->help) return usage_of(user_help, {"--help"});
  auto c = open_identities(f->values);
  if (!c) return fail(c.error_value().message);
  auto& dir = *c->directory;
  const auto name = value_of(*f, "name");
  if (verb != "list" && name.empty()) return fail("--name is required (see berth user --help)");
  if (verb == "create") {
    auto u = dir.create_user(name, value_of(*f, "path", "/"), f->values.count("basic-pull") > 0);
    if (!u) return fail(u.error_value().message);
    std::printf("created user %s (%s, id %s)\n", u->name.c_str(), u->arn.c_str(), u->user_id.c_str());
    return 0;
  }
  if (verb == "list") {
    std::string after;
    for (;;) {
      auto page = dir.users("/", after, 1000);
      if (!page) return fail(page.error_value().message);
      for (const auto& u : *page) {
        std::printf("%s\t%s\t%s%s\n", u.name.c_str(), u.arn.c_str(), u.user_id.c_str(),
                    u.basic_pull ? "\tbasic-pull" : "");
      }
      if (page->size() < 1000) break;
      after = page->back().name;
    }
    return 0;
  }
  if (verb == "set") {
    const bool on = f->values.count("basic-pull") > 0;
    if (on == (f->values.count("no-basic-pull") > 0)) {
      return fail("give one of --basic-pull, --no-basic-pull (see berth user --help)");
    }
    if (auto r = dir.set_basic_pull(name, on); !r) return fail(r.error_value().message);
    std::printf("user %s: basic-pull %s\n", name.c_str(), on ? "on" : "off");
    return 0;
  }
  if (verb == "delete") {
    if (f->values.count("force")) {
      auto keys = dir.access_keys(name);
      if (!keys) return fail(keys.error_value().message);
      for (const auto& k : *keys) {
        if (auto r = dir.delete_access_key(name, k.access_key_id); !r) return fail(r.error_value().message);
      }
      auto names = dir.policy_names(policy_owner::user, name);
      if (!names) return fail(names.error_value().message);
      for (const auto& p : *names) {
        if (auto r = dir.delete_policy(policy_owner::user, name, p); !r) return fail(r.error_value().message);
      }
      auto groups = dir.groups_of(name);
      if (!groups) return fail(groups.error_value().message);
      for (const auto& g : *groups) {
        if (auto r = dir.remove_user_from_group(g.name, name); !r) return fail(r.error_value().message);
      }
    }
    if (auto r = dir.delete_user(name); !r) return fail(r.error_value().message);
    std::printf("deleted user %s\n", name.c_str());
    return 0;
  }
  return usage_of(user_help, {});
}

int key_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-") || args[0] == "help") return usage_of(key_help, args);
  const auto& verb = args[0];
  auto f = parse_flags({args.begin() + 1, args.end()}, {"data-dir", "config", "user", "key", "status"}, {}, "key");
  if (!f) return fail(f.error_value().message);
  if (f->help) return usage_of(key_help, {"--help"});
  const auto user = value_of(*f, "user");
  if (user.empty()) return fail("--user is required (see berth key --help)");
  auto c = open_identities(f->values);
  if (!c) return fail(c.error_value().message);
  auto& dir = *c->directory;
  if (verb == "create") {
    auto k = dir.create_access_key(user);
    if (!k) return fail(k.error_value().message);
    std::printf("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", k->access_key_id.c_str(),
                k->secret_access_key.c_str());
    std::fprintf(stderr, "berth: the secret is shown only now; Berth keeps it sealed.\n");
    return 0;
  }
  if (verb == "list") {
    auto keys = dir.access_keys(user);
    if (!keys) return fail(keys.error_value().message);
    for (const auto& k : *keys) std::printf("%s\t%s\n", k.access_key_id.c_str(), k.status.c_str());
    return 0;
  }
  const auto key = value_of(*f, "key");
  if (key.empty()) return fail("--key is required (see berth key --help)");
  if (verb == "update") {
    if (auto r = dir.update_access_key(user, key, value_of(*f, "status")); !r) return fail(r.error_value().message);
    std::printf("key %s of %s: %s\n", key.c_str(), user.c_str(), value_of(*f, "status").c_str());
    return 0;
  }
  if (verb == "delete") {
    if (auto r = dir.delete_access_key(user, key); !r) return fail(r.error_value().message);
    std::printf("deleted key %s of %s\n", key.c_str(), user.c_str());
    return 0;
  }
  return usage_of(key_help, {});
}

int policy_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-") || args[0] == "help") return usage_of(policy_help, args);
  const auto& verb = args[0];
  auto f = parse_flags({args.begin() + 1, args.end()},
                       {"data-dir", "config", "user", "group", "name", "file", "repository"}, {"registry"}, "policy");
  if (!f) return fail(f.error_value().message);
  if (f->help) return usage_of(policy_help, {"--help"});
  const auto user = value_of(*f, "user");
  const auto group = value_of(*f, "group");
  const auto repository = value_of(*f, "repository");
  const bool registry_wide = f->values.count("registry") > 0;
  const int targets = !user.empty() + !group.empty() + !repository.empty() + registry_wide;
  if (targets != 1) return fail("name exactly one of --user, --group, --repository, --registry");
  auto c = open_identities(f->values);
  if (!c) return fail(c.error_value().message);
  auto& dir = *c->directory;
  auto& resource = *c->policies;
  const bool identity = !user.empty() || !group.empty();
  const auto owner_kind = user.empty() ? policy_owner::group : policy_owner::user;
  const auto owner = user.empty() ? group : user;
  const auto name = value_of(*f, "name");
  if (identity && verb != "list" && name.empty()) return fail("--name POLICY is required for a user's or group's");
  if (verb == "put") {
    auto text = read_document(value_of(*f, "file", "-"));
    if (!text) return fail(text.error_value().message);
    result<void> r = identity        ? dir.put_policy(owner_kind, owner, name, *text)
                     : registry_wide ? resource.put_registry_policy(*text)
                                     : resource.set_repository_policy(repository, *text);
    if (!r) return fail(r.error_value().message);
    std::printf("policy stored\n");
    return 0;
  }
  if (verb == "get") {
    auto text = identity        ? dir.policy(owner_kind, owner, name)
                : registry_wide ? resource.registry_policy()
                                : resource.repository_policy(repository);
    if (!text) return fail(text.error_value().message);
    std::printf("%s\n", text->c_str());
    return 0;
  }
  if (verb == "list" && identity) {
    auto names = dir.policy_names(owner_kind, owner);
    if (!names) return fail(names.error_value().message);
    for (const auto& n : *names) std::printf("%s\n", n.c_str());
    return 0;
  }
  if (verb == "delete") {
    result<void> r = identity ? dir.delete_policy(owner_kind, owner, name) : result<void>();
    if (!identity) {
      auto removed = registry_wide ? resource.delete_registry_policy() : resource.delete_repository_policy(repository);
      if (!removed) r = removed.take_error();
    }
    if (!r) return fail(r.error_value().message);
    std::printf("policy deleted\n");
    return 0;
  }
  return usage_of(policy_help, {});
}

}  // namespace berth::cli
