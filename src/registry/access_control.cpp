#include "berth/registry/access_control.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "berth/meta/metadata_store.hpp"

namespace berth {

// What the current access generation says; filled lazily, request by request.
// Which context keys to build: those some applicable policy reads (lower case), or all.
struct access_control::key_filter {
  bool all = false;
  const std::vector<std::string>& keys;

  bool reads(std::string_view key, std::string_view suffix = {}) const {
    if (all) return true;
    for (const auto& k : keys) {
      if (k.size() != key.size() + suffix.size() || !k.starts_with(key)) continue;
      bool same = true;
      for (std::size_t i = 0; i < suffix.size() && same; ++i) {
        same = k[key.size() + i] == static_cast<char>(std::tolower(static_cast<unsigned char>(suffix[i])));
      }
      if (same) return true;
    }
    return false;
  }
};

// Documents with the context keys they read (all of them when one uses policy variables).
struct policy_set {
  std::vector<policy::document> docs;
  bool reads_any_key = false;
  std::vector<std::string> keys;  // lower case
  // Resource policies: the user ids they were bound to when stored (ARN → id).
  std::vector<std::map<std::string, std::string, std::less<>>> bound_ids;

  void add(policy::document d, const std::string& principal_ids = "{}") {
    if (auto k = policy::context_keys(d)) {
      keys.insert(keys.end(), k->begin(), k->end());
    } else {
      reads_any_key = true;
    }
    std::map<std::string, std::string, std::less<>> ids;
    auto j = nlohmann::json::parse(principal_ids, nullptr, false);
    if (j.is_object()) {
      for (auto& [arn, id] : j.items())
        if (id.is_string()) ids.emplace(arn, id.get<std::string>());
    }
    bound_ids.push_back(std::move(ids));
    docs.push_back(std::move(d));
  }
  // IAM binds a named user to the user who existed when the policy was stored: a user of that name
  // created since (another id) is someone else.
  bool names_an_earlier(std::size_t i, const auth::identity& who) const {
    auto it = bound_ids[i].find(who.arn);
    return it != bound_ids[i].end() && it->second != who.user_id;
  }
};

struct access_control::snapshot {
  struct repository_facts {
    policy_set policy;  // zero or one document
    meta::resource_tags tags;
  };
  std::int64_t generation = -1;
  std::mutex mutex;
  std::map<std::string, std::optional<auth::found_credential>, std::less<>> keys;
  std::map<std::string, std::shared_ptr<const policy_set>, std::less<>> user_policies;
  std::map<std::string, std::shared_ptr<const repository_facts>, std::less<>> repositories;
  std::shared_ptr<const policy_set> registry_policy;
  std::shared_ptr<const std::vector<std::string>> pull_exclusions;  // sorted
};

namespace {

std::optional<policy::document> parse_stored(const std::string& text, policy::document_kind kind,
                                             const std::string& what) {
  auto d = policy::parse(text, kind);
  if (!d) {
    // Stored documents were validated when written; one that no longer parses grants nothing.
    spdlog::error("ignoring the stored {} that does not parse: {}", what, d.error_value().message);
    return std::nullopt;
  }
  return std::move(d).value();
}

// Bounds: a client can make us look up any key id or repository name.
constexpr std::size_t max_cached = 4096;

template <class Map>
void bound(Map& m) {
  if (m.size() >= max_cached) m.clear();
}

}  // namespace

access_control::access_control(registry_backends backends, const auth::credential_store& configured,
                               const auth::secret_sealer& sealer, access_settings settings)
    : backends_(backends), configured_(configured), sealer_(sealer), settings_(std::move(settings)) {}

access_control::~access_control() = default;

std::string access_control::repository_arn(const std::string& repository) const {
  return "arn:aws:ecr:" + settings_.region + ":" + settings_.account_id + ":repository/" + repository;
}

std::shared_ptr<access_control::snapshot> access_control::current() const {
  auto generation = backends_.meta.identities().generation();
  if (!generation) return nullptr;
  std::lock_guard lock(mutex_);
  if (!snapshot_ || snapshot_->generation != *generation) {
    snapshot_ = std::make_shared<snapshot>();
    snapshot_->generation = *generation;
  }
  return snapshot_;
}

std::optional<auth::found_credential> access_control::find(const std::string& access_key_id) const {
  if (auto c = configured_.find(access_key_id)) return c;
  auto s = current();
  if (!s) return std::nullopt;  // the metadata cannot be read: nobody new is authenticated
  {
    std::lock_guard lock(s->mutex);
    if (auto it = s->keys.find(access_key_id); it != s->keys.end()) return it->second;
  }
  auto& ids = backends_.meta.identities();
  std::optional<auth::found_credential> found;
  auto key = ids.find_access_key(access_key_id);
  if (!key) return std::nullopt;  // not cached: a passing failure must not stick
  if (*key && (*key)->status == "Active") {
    auto user = ids.find_user((*key)->user_name);
    if (!user) return std::nullopt;
    auto secret = sealer_.open((*key)->sealed_secret, access_key_id);
    if (!secret) spdlog::error("access key {}: {}", access_key_id, secret.error_value().message);
    if (*user && secret) {
      auth::found_credential f;
      f.who.name = (*user)->name;
      f.who.access_key_id = access_key_id;
      f.who.arn = "arn:aws:iam::" + settings_.account_id + ":user" + (*user)->path + (*user)->name;
      f.who.user_id = (*user)->user_id;
      f.who.basic_pull = (*user)->basic_pull;
      f.secret_access_key = std::move(*secret);
      found = std::move(f);
    }
  }
  std::lock_guard lock(s->mutex);
  bound(s->keys);
  s->keys.emplace(access_key_id, found);
  return found;
}

std::optional<auth::identity> access_control::identity_for(const std::string& access_key_id) const {
  if (auto c = configured_.find(access_key_id)) return std::move(c->who);
  // Login tokens on the hot path: a cached identity is copied without its secret.
  if (auto s = current()) {
    std::lock_guard lock(s->mutex);
    if (auto it = s->keys.find(access_key_id); it != s->keys.end()) {
      if (!it->second) return std::nullopt;
      return it->second->who;
    }
  }
  auto c = find(access_key_id);
  if (!c) return std::nullopt;
  return std::move(c->who);
}

policy::request_context access_control::context_for(const auth::identity& who, const access_request& what,
                                                    const key_filter& wanted) const {
  policy::request_context rc;
  rc.action = what.action;
  rc.resource = !what.resource.empty()    ? what.resource
                : what.repository.empty() ? std::string("*")
                                          : repository_arn(what.repository);
  rc.principal_arn = who.arn;
  rc.account = settings_.account_id;
  if (!who.arn.empty()) {
    if (wanted.reads("aws:principalarn")) rc.set("aws:PrincipalArn", who.arn);
    if (wanted.reads("aws:principalaccount")) rc.set("aws:PrincipalAccount", settings_.account_id);
    if (wanted.reads("aws:principaltype")) rc.set("aws:PrincipalType", who.root ? "Account" : "User");
    if (wanted.reads("aws:username")) rc.set("aws:username", who.name);
    if (wanted.reads("aws:userid")) rc.set("aws:userid", who.user_id);
  }
  if (!what.source_ip.empty() && wanted.reads("aws:sourceip")) rc.set("aws:SourceIp", what.source_ip);
  if (wanted.reads("aws:securetransport")) rc.set("aws:SecureTransport", what.secure_transport ? "true" : "false");
  if (what.request_tags) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : *what.request_tags) {
      if (wanted.reads("aws:requesttag/", k)) rc.set("aws:RequestTag/" + k, v);
      keys.push_back(k);
    }
    if (wanted.reads("aws:tagkeys")) rc.set("aws:TagKeys", keys);
  }
  return rc;
}

result<void> access_control::authorize(const auth::identity& who, const access_request& what) const {
  return check(who, what, nullptr, nullptr);
}

bool access_control::locks_out(const auth::identity& who, const std::string& repository,
                               const policy::document& candidate) const {
  if (who.full_access) return false;
  access_request what;
  what.action = "ecr:SetRepositoryPolicy";
  what.repository = repository;
  policy::decision d;
  (void)check(who, what, &candidate, &d);
  return d.result == policy::verdict::explicit_deny;
}

result<void> access_control::check(const auth::identity& who, const access_request& what,
                                   const policy::document* candidate, policy::decision* out) const {
  if (who.full_access) return {};
  auto s = current();
  if (!s) return make_error(errc::unavailable, "the metadata database cannot be read");
  auto& ids = backends_.meta.identities();

  // The caller's identity policies (its own and its groups').
  std::shared_ptr<const policy_set> mine;
  if (!who.arn.empty()) {
    {
      std::lock_guard lock(s->mutex);
      if (auto it = s->user_policies.find(who.name); it != s->user_policies.end()) mine = it->second;
    }
    if (!mine) {
      auto texts = ids.policies_of_user(who.name);
      if (!texts) return make_error(errc::unavailable, texts.error_value().message);
      auto docs = std::make_shared<policy_set>();
      for (const auto& t : *texts) {
        if (auto d = parse_stored(t, policy::document_kind::identity, "policy of user " + who.name)) {
          docs->add(std::move(*d));
        }
      }
      mine = docs;
      std::lock_guard lock(s->mutex);
      bound(s->user_policies);
      s->user_policies.emplace(who.name, mine);
    }
  }

  // The repository's policy and tags, and the registry's policy: not for GetAuthorizationToken
  // (only an identity policy grants it, as in AWS) nor for non-ECR actions.
  const bool ecr_action = what.action.starts_with("ecr:") && what.action != "ecr:GetAuthorizationToken";
  std::shared_ptr<const snapshot::repository_facts> repo;
  std::shared_ptr<const policy_set> registry_doc;
  if (ecr_action && !what.repository.empty()) {
    {
      std::lock_guard lock(s->mutex);
      if (auto it = s->repositories.find(what.repository); it != s->repositories.end()) repo = it->second;
    }
    if (!repo) {
      auto facts = std::make_shared<snapshot::repository_facts>();
      auto text = ids.repository_policy(what.repository);
      if (!text && text.error_value().code != errc::name_unknown) {
        return make_error(errc::unavailable, text.error_value().message);
      }
      if (text && *text) {
        if (auto d =
                parse_stored((*text)->document, policy::document_kind::repository, "policy of " + what.repository)) {
          facts->policy.add(std::move(*d), (*text)->principal_ids);
        }
      }
      auto tags = backends_.meta.repositories().tags(what.repository);
      if (tags) facts->tags = std::move(*tags);
      repo = facts;
      std::lock_guard lock(s->mutex);
      bound(s->repositories);
      s->repositories.emplace(what.repository, repo);
    }
  }
  if (ecr_action) {
    {
      std::lock_guard lock(s->mutex);
      registry_doc = s->registry_policy;
    }
    if (!registry_doc) {
      auto text = ids.registry_policy();
      if (!text) return make_error(errc::unavailable, text.error_value().message);
      auto doc = std::make_shared<policy_set>();
      if (*text) {
        if (auto d = parse_stored((*text)->document, policy::document_kind::registry, "registry policy")) {
          doc->add(std::move(*d), (*text)->principal_ids);
        }
      }
      registry_doc = doc;
      std::lock_guard lock(s->mutex);
      s->registry_policy = registry_doc;
    }
  }

  // Only the context keys some applicable policy reads.
  std::vector<std::string> keys;
  bool any_key = candidate != nullptr;
  for (const policy_set* set : {mine.get(), repo ? &repo->policy : nullptr, registry_doc.get()}) {
    if (set == nullptr) continue;
    any_key = any_key || set->reads_any_key;
    keys.insert(keys.end(), set->keys.begin(), set->keys.end());
  }
  const key_filter wanted{any_key, keys};
  auto rc = context_for(who, what, wanted);
  if (repo) {
    for (const auto& [k, v] : repo->tags) {
      if (wanted.reads("ecr:resourcetag/", k)) rc.set("ecr:ResourceTag/" + k, v);
      if (wanted.reads("aws:resourcetag/", k)) rc.set("aws:ResourceTag/" + k, v);
    }
  }
  std::vector<const policy::document*> identity_docs;
  if (mine)
    for (const auto& d : mine->docs) identity_docs.push_back(&d);
  std::vector<const policy::document*> resource_docs;
  std::vector<const policy::document*> stale;  // they name an earlier user of the caller's name
  auto take = [&](const policy_set& set) {
    for (std::size_t i = 0; i < set.docs.size(); ++i) {
      (set.names_an_earlier(i, who) ? stale : resource_docs).push_back(&set.docs[i]);
    }
  };
  if (candidate) {
    resource_docs.push_back(candidate);
  } else if (repo) {
    take(repo->policy);
  }
  if (registry_doc) take(*registry_doc);

  auto d = policy::evaluate(identity_docs, resource_docs, rc);
  if (!stale.empty()) {
    // To those, the caller is another principal of the account: "*" and the account still match.
    auto other = rc;
    other.principal_arn = who.arn + "#" + who.user_id;
    auto d2 = policy::evaluate({}, stale, other);
    if (d2.result == policy::verdict::explicit_deny) {
      d = d2;
    } else if (d.result == policy::verdict::implicit_deny && d2.result == policy::verdict::allow) {
      d = d2;
    }
  }
  if (out) *out = d;
  if (d.result == policy::verdict::allow) return {};
  std::string why;
  switch (d.result) {
    case policy::verdict::explicit_deny:
      why = d.source == policy::policy_source::resource ? "with an explicit deny in a resource-based policy"
                                                        : "with an explicit deny in an identity-based policy";
      break;
    case policy::verdict::implicit_deny:
    case policy::verdict::allow: why = "because no identity-based policy allows the " + what.action + " action"; break;
  }
  const std::string caller = who.arn.empty() ? std::string("anonymous") : who.arn;
  return make_error(errc::denied, "User: " + caller + " is not authorized to perform: " + what.action +
                                      " on resource: " + rc.resource + " " + why);
}

bool access_control::pull_time_excluded(const auth::identity& who) const {
  if (who.arn.empty() || who.root) return false;  // root is no IAM user or role: never excluded
  auto s = current();
  if (!s) return false;
  std::shared_ptr<const std::vector<std::string>> list;
  {
    std::lock_guard lock(s->mutex);
    list = s->pull_exclusions;
  }
  if (!list) {
    auto rows = backends_.meta.identities().pull_exclusions();
    if (!rows) return false;
    list = std::make_shared<const std::vector<std::string>>(std::move(*rows));
    std::lock_guard lock(s->mutex);
    s->pull_exclusions = list;
  }
  return std::binary_search(list->begin(), list->end(), who.arn);
}

bool access_control::allows_anonymous(const std::string& action, const std::string& repository) const {
  auth::identity nobody;
  access_request what;
  what.action = action;
  what.repository = repository;
  return authorize(nobody, what).has_value();
}

}  // namespace berth
