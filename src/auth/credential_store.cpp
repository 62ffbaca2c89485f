#include "berth/auth/identity.hpp"

namespace berth::auth {

credential_store::credential_store(std::string account_id, std::vector<credential> credentials)
    : account_id_(std::move(account_id)) {
  for (auto& c : credentials) {
    auto key = c.access_key_id;
    by_key_.emplace(std::move(key), std::move(c));
  }
}

std::optional<found_credential> credential_store::find(const std::string& access_key_id) const {
  auto it = by_key_.find(access_key_id);
  if (it == by_key_.end()) return std::nullopt;
  const auto& c = it->second;
  found_credential f;
  f.who.name = c.name;
  f.who.access_key_id = c.access_key_id;
  f.who.root = c.root;
  f.who.arn = c.root ? "arn:aws:iam::" + account_id_ + ":root" : "arn:aws:iam::" + account_id_ + ":user/" + c.name;
  f.who.user_id = c.root ? account_id_ : "AIDA" + c.access_key_id.substr(c.access_key_id.size() > 4 ? 4 : 0);
  f.who.full_access = true;
  f.secret_access_key = c.secret_access_key;
  return f;
}

}  // namespace berth::auth
