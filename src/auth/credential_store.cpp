#include "berth/auth/identity.hpp"

namespace berth::auth {

credential_store::credential_store(std::string account_id, std::vector<credential> credentials)
    : account_id_(std::move(account_id)) {
  for (auto& c : credentials) {
    auto key = c.access_key_id;
    by_key_.emplace(std::move(key), std::move(c));
  }
}

const credential* credential_store::find_by_access_key(const std::string& access_key_id) const {
  auto it = by_key_.find(access_key_id);
  return it == by_key_.end() ? nullptr : &it->second;
}

std::optional<identity> credential_store::identity_for(const std::string& access_key_id) const {
  const auto* c = find_by_access_key(access_key_id);
  if (c == nullptr) return std::nullopt;
  identity id;
  id.name = c->name;
  id.access_key_id = c->access_key_id;
  id.root = c->root;
  id.arn = c->root ? "arn:aws:iam::" + account_id_ + ":root" : "arn:aws:iam::" + account_id_ + ":user/" + c->name;
  return id;
}

}  // namespace berth::auth
