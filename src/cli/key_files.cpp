#include "berth/cli/key_files.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "berth/core/names.hpp"

namespace berth::cli {
namespace {

std::string random_bytes(std::size_t n) {
  std::string b(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(b.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return b;
}

std::string random_from(std::string_view alphabet, std::size_t n) {
  auto bytes = random_bytes(n);
  std::string out;
  for (unsigned char c : bytes) out.push_back(alphabet[c % alphabet.size()]);
  return out;
}

class file_secrets final : public auth::secret_store {
 public:
  explicit file_secrets(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::string location(const std::string& name) const override { return path_of(name).string(); }

  result<std::optional<std::string>> get(const std::string& name) override {
    auto path = path_of(name);
    if (!std::filesystem::exists(path)) return std::optional<std::string>();
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(path.c_str(), 0600);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::internal, "cannot read " + path.string());
    std::stringstream s;
    s << in.rdbuf();
    return std::optional<std::string>(s.str());
  }

  result<std::string> put_if_absent(const std::string& name, const std::string& value) override {
    auto path = path_of(name);
    // Written to a private temp file, fsync'd, then linked into place: never half a secret on
    // disk, and a link fails when another process stored one first.
    auto tmp = path.string() + "." + new_upload_id() + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(errc::internal, "cannot write " + tmp);
    bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
      ::unlink(tmp.c_str());
      return make_error(errc::internal, "cannot write " + tmp);
    }
    int linked = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (linked != 0) {
      if (err != EEXIST) return make_error(errc::internal, "cannot write " + path.string());
      auto existing = get(name);
      if (!existing) return existing.take_error();
      if (!*existing) return make_error(errc::internal, "cannot read " + path.string());
      return std::move(**existing);
    }
    return value;
  }

 private:
  std::filesystem::path path_of(const std::string& name) const {
    static const std::map<std::string, std::string> files = {{root_credentials_secret, "root-credentials.json"},
                                                             {signing_key_secret, "token-signing.key"},
                                                             {sealing_key_secret, "access-key-encryption.key"}};
    auto it = files.find(name);
    return dir_ / (it != files.end() ? it->second : name);
  }
  std::filesystem::path dir_;
};

class database_secret_store final : public auth::secret_store {
 public:
  explicit database_secret_store(meta::secret_index& s) : s_(s) {}
  std::string location(const std::string& name) const override {
    return "the metadata database (table secrets, name '" + name + "')";
  }
  result<std::optional<std::string>> get(const std::string& name) override { return s_.get(name); }
  result<std::string> put_if_absent(const std::string& name, const std::string& value) override {
    return s_.put_if_absent(name, value, static_cast<std::int64_t>(::time(nullptr)));
  }

 private:
  meta::secret_index& s_;
};

result<config::user_credentials> parse_root(const std::string& text, const std::string& where) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("access_key_id") || !j.contains("secret_access_key") ||
      !j["access_key_id"].is_string() || !j["secret_access_key"].is_string()) {
    return make_error(errc::internal, where + " is damaged");
  }
  return config::user_credentials{"root", j["access_key_id"].get<std::string>(),
                                  j["secret_access_key"].get<std::string>()};
}

}  // namespace

std::unique_ptr<auth::secret_store> data_dir_secrets(const std::filesystem::path& data_dir) {
  return std::make_unique<file_secrets>(data_dir);
}

std::unique_ptr<auth::secret_store> database_secrets(meta::secret_index& secrets) {
  return std::make_unique<database_secret_store>(secrets);
}

result<root_key> load_or_generate_root_key(auth::secret_store& secrets) {
  auto stored = secrets.get(root_credentials_secret);
  if (!stored) return stored.take_error();
  if (*stored) {
    auto c = parse_root(**stored, secrets.location(root_credentials_secret));
    if (!c) return c.take_error();
    return root_key{*c, false};
  }
  config::user_credentials c{"root", "AKIA" + random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
                             random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)};
  return root_key{c, true};
}

result<config::user_credentials> save_root_key(auth::secret_store& secrets, const config::user_credentials& c) {
  nlohmann::json j = {{"access_key_id", c.access_key_id}, {"secret_access_key", c.secret_access_key}};
  auto now = secrets.put_if_absent(root_credentials_secret, j.dump(2) + "\n");
  if (!now) return now.take_error();
  return parse_root(*now, secrets.location(root_credentials_secret));
}

namespace {

// A 32-byte random key, created by the first server that needs it.
result<std::string> load_or_create_key(auth::secret_store& secrets, const char* name) {
  auto stored = secrets.get(name);
  if (!stored) return stored.take_error();
  auto key = *stored ? std::move(**stored) : std::string();
  if (!*stored) {
    auto put = secrets.put_if_absent(name, random_bytes(32));
    if (!put) return put.take_error();
    key = std::move(put).value();
  }
  if (key.size() != 32) return make_error(errc::internal, secrets.location(name) + " is damaged");
  return key;
}

}  // namespace

result<std::string> load_or_create_signing_key(auth::secret_store& secrets) {
  return load_or_create_key(secrets, signing_key_secret);
}

result<std::string> load_or_create_sealing_key(auth::secret_store& secrets) {
  return load_or_create_key(secrets, sealing_key_secret);
}

}  // namespace berth::cli
