// Who is calling: root, a configured user, or an IAM user, found by access key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::auth {

struct identity {
  std::string name;  // "root" or the user's name
  std::string access_key_id;
  std::string arn;  // arn:aws:iam::<account>:root or arn:aws:iam::<account>:user<path><name>
  bool root = false;
  std::string user_id;  // AIDA… (the account id for root): STS's UserId, aws:userid
  // Root and the users of the config file (auth.users[]): allowed everything, no policy read.
  bool full_access = false;
  bool basic_pull = false;  // may authenticate V2 requests with HTTP Basic key id : secret
};

// A principal's key and its secret, as SigV4 needs it.
struct found_credential {
  identity who;
  std::string secret_access_key;
};

// Where SigV4 and login tokens look callers up. Only active keys of existing principals are found:
// a key deactivated or deleted, or its user deleted, stops authenticating on the next request.
class credential_source {
 public:
  virtual ~credential_source() = default;
  virtual std::optional<found_credential> find(const std::string& access_key_id) const = 0;
  // The identity alone (what a login token needs): a source may skip copying the secret.
  virtual std::optional<identity> identity_for(const std::string& access_key_id) const {
    auto c = find(access_key_id);
    if (!c) return std::nullopt;
    return std::move(c->who);
  }
};

struct credential {
  std::string name;
  std::string access_key_id;
  std::string secret_access_key;
  bool root = false;
};

// The identities of the data directory and the config (root, auth.users[]): fixed at start-up.
class credential_store final : public credential_source {
 public:
  credential_store(std::string account_id, std::vector<credential> credentials);
  std::optional<found_credential> find(const std::string& access_key_id) const override;
  const std::string& account_id() const { return account_id_; }

 private:
  std::string account_id_;
  std::map<std::string, credential> by_key_;
};

}  // namespace berth::auth
