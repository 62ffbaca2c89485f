#include "berth/cli/key_files.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

// Written to a temp file with mode 0600, fsync'd and renamed: never half a secret on disk.
result<void> write_secret(const std::filesystem::path& path, const std::string& content) {
  auto tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errc::internal, "cannot write " + tmp);
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return make_error(errc::internal, "cannot write " + path.string());
  return {};
}

result<std::string> read_secret(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(path.c_str(), 0600);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(errc::internal, "cannot read " + path.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

result<root_key> load_or_generate_root_key(const std::filesystem::path& data_dir) {
  auto path = data_dir / "root-credentials.json";
  if (std::filesystem::exists(path)) {
    auto text = read_secret(path);
    if (!text) return text.take_error();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.contains("access_key_id") || !j.contains("secret_access_key")) {
      return make_error(errc::internal, path.string() + " is damaged");
    }
    return root_key{{"root", j["access_key_id"].get<std::string>(), j["secret_access_key"].get<std::string>()}, false};
  }
  config::user_credentials c{"root", "AKIA" + random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
                             random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)};
  return root_key{c, true};
}

result<void> save_root_key(const std::filesystem::path& data_dir, const config::user_credentials& c) {
  nlohmann::json j = {{"access_key_id", c.access_key_id}, {"secret_access_key", c.secret_access_key}};
  return write_secret(data_dir / "root-credentials.json", j.dump(2) + "\n");
}

result<std::string> load_or_create_signing_key(const std::filesystem::path& data_dir) {
  auto path = data_dir / "token-signing.key";
  if (std::filesystem::exists(path)) {
    auto key = read_secret(path);
    if (!key) return key.take_error();
    if (key->size() != 32) return make_error(errc::internal, path.string() + " is damaged");
    return key;
  }
  auto key = random_bytes(32);
  if (auto r = write_secret(path, key); !r) return r.take_error();
  return key;
}

}  // namespace berth::cli
