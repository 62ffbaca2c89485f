// Who is calling: a root or a configured user, found by access key.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::auth {

struct identity {
  std::string name;  // "root" or the user's name
  std::string access_key_id;
  std::string arn;  // arn:aws:iam::<account>:root or arn:aws:iam::<account>:user/<name>
  bool root = false;
};

struct credential {
  std::string name;
  std::string access_key_id;
  std::string secret_access_key;
  bool root = false;
};

// The identities Berth knows, fixed at start-up from the data directory and the config.
class credential_store {
 public:
  credential_store(std::string account_id, std::vector<credential> credentials);
  const credential* find_by_access_key(const std::string& access_key_id) const;
  std::optional<identity> identity_for(const std::string& access_key_id) const;
  const std::string& account_id() const { return account_id_; }

 private:
  std::string account_id_;
  std::map<std::string, credential> by_key_;
};

}  // namespace berth::auth
