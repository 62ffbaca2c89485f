// Settings from their three sources (flags over BERTH_* variables over the file) and the checks
// across keys; the file's own reading is config_file.cpp.
#include "berth/config/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "berth/core/ecr_host_names.hpp"
#include "config_error.hpp"

namespace berth::config {
namespace {

result<void> parse_bool(const std::string& text, bool& out, const char* what) {
  if (text == "true" || text == "1") {
    out = true;
  } else if (text == "false" || text == "0") {
    out = false;
  } else {
    return bad(std::string(what) + " must be true or false, got '" + text + "'");
  }
  return {};
}

result<std::int64_t> parse_non_negative(const std::string& text, const char* what) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < 0) {
    return bad(std::string(what) + " must be a non-negative integer, got '" + text + "'");
  }
  return v;
}

result<void> validate(const settings& s) {
  if (auto l = parse_listen(s.listen); !l) return l.take_error();
  if (!s.metrics_listen.empty()) {
    auto m = parse_listen(s.metrics_listen);
    if (!m) return bad("metrics.listen: " + m.error_value().message);
    if (s.metrics_listen == s.listen) return bad("metrics.listen must differ from the main listen address");
  }
  if (s.data_dir.empty()) return bad("data directory must not be empty");
  if (s.log_format != "text" && s.log_format != "json") return bad("log format must be 'text' or 'json'");
  if (s.auth_mode != "sigv4" && s.auth_mode != "none") return bad("auth mode must be 'sigv4' or 'none'");
  if (s.gc_untagged != "keep" && s.gc_untagged != "delete") return bad("gc.untagged must be 'keep' or 'delete'");
  if (s.metadata_driver != "sqlite" && s.metadata_driver != "postgres") {
    return bad("metadata.driver must be 'sqlite' or 'postgres', got '" + s.metadata_driver + "'");
  }
  if (s.metadata_driver == "postgres" && s.metadata_dsn.empty()) {
    return bad("metadata.driver 'postgres' needs metadata.dsn (or BERTH_METADATA_DSN)");
  }
  if (s.metadata_max_connections < 1 || s.metadata_max_connections > 1000) {
    return bad("metadata.max_connections must be between 1 and 1000");
  }
  if (s.storage_driver != "filesystem" && s.storage_driver != "s3") {
    return bad("storage.driver must be 'filesystem' or 's3', got '" + s.storage_driver + "'");
  }
  if (s.storage_driver == "s3") {
    if (!s.s3_endpoint.starts_with("http://") && !s.s3_endpoint.starts_with("https://")) {
      return bad("storage.driver 's3' needs storage.s3.endpoint as http(s)://host[:port] (or BERTH_S3_ENDPOINT)");
    }
    if (s.s3_bucket.size() < 3 || s.s3_bucket.size() > 63 ||
        s.s3_bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos) {
      return bad("storage.s3.bucket must be a bucket name (3-63 of a-z 0-9 . -), got '" + s.s3_bucket + "'");
    }
    if (s.s3_access_key_id.empty() || s.s3_secret_access_key.empty()) {
      return bad("storage.driver 's3' needs storage.s3.access_key_id and secret_access_key");
    }
    if (s.s3_region.empty()) return bad("storage.s3.region must not be empty");
    if (s.s3_part_size < 5 * 1024 * 1024 || s.s3_part_size > 5ll * 1024 * 1024 * 1024) {
      return bad("storage.s3.part_size must be between 5 MiB and 5 GiB (S3's part limits)");
    }
  }
  if (!is_account_id(s.account_id)) {
    return bad("registry account id must be 12 digits, got '" + s.account_id + "'");
  }
  if (s.region.empty() || s.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return bad("invalid region '" + s.region + "'");
  }
  if (s.ecr_hostnames && !s.public_host.empty()) {
    return bad("registry.public_host and registry.ecr_hostnames both name the registry's host; set one of them");
  }
  if (s.token_lifetime_seconds < 900 || s.token_lifetime_seconds > 7 * 24 * 3600) {
    return bad("auth.token_lifetime_seconds must be between 900 (15 minutes) and 604800 (7 days)");
  }
  if (s.root.access_key_id.empty() != s.root.secret_access_key.empty()) {
    return bad("the root access key id and secret access key must be given together");
  }
  std::map<std::string, int> seen_keys;
  std::map<std::string, int> seen_names;
  if (!s.root.access_key_id.empty()) seen_keys[s.root.access_key_id]++;
  for (const auto& u : s.users) {
    if (u.name.empty() || u.access_key_id.empty() || u.secret_access_key.empty()) {
      return bad("every auth.users entry needs name, access_key_id and secret_access_key");
    }
    if (u.name == "root") return bad("'root' is reserved and cannot name a user");
    if (u.access_key_id.find_first_of("/: ") != std::string::npos)
      return bad("invalid access key id for user " + u.name);
    if (++seen_keys[u.access_key_id] > 1) return bad("access key id used twice: " + u.access_key_id);
    if (++seen_names[u.name] > 1) return bad("user defined twice: " + u.name);
  }
  for (auto level : {"trace", "debug", "info", "warn", "error"}) {
    if (s.log_level == level) return {};
  }
  return bad("log level must be one of trace, debug, info, warn, error");
}

}  // namespace

std::string process_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

result<listen_address> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return bad("listen address must be HOST:PORT or :PORT, got '" + text + "'");
  // ":5000" listens on every address, as Go servers read it; a host name is resolved when binding.
  std::string host = colon == 0 ? std::string("0.0.0.0") : text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    return bad("invalid port in listen address '" + text + "'");
  }
  return listen_address{host, static_cast<std::uint16_t>(port)};
}

result<settings> load(const flag_map& flags, env_lookup env) {
  settings s;
  auto flag = [&](const char* name) -> std::string {
    auto it = flags.find(name);
    return it == flags.end() ? std::string() : it->second;
  };
  std::string path = flag("config");
  if (path.empty()) path = env("BERTH_CONFIG");
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) return bad("cannot read configuration file '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    auto applied = apply_json(std::move(s), text.str());
    if (!applied) return bad(path + ": " + applied.error_value().message);
    s = std::move(applied).value();
  }
  struct source {
    const char* flag;
    const char* env;
    std::string* field;
  };
  for (auto [f, e, field] : {source{"listen", "BERTH_LISTEN", &s.listen},
                             source{"data-dir", "BERTH_DATA_DIR", &s.data_dir},
                             source{"log-format", "BERTH_LOG_FORMAT", &s.log_format},
                             source{"log-level", "BERTH_LOG_LEVEL", &s.log_level},
                             source{"auth", "BERTH_AUTH", &s.auth_mode},
                             source{"account-id", "BERTH_ACCOUNT_ID", &s.account_id},
                             source{"region", "BERTH_REGION", &s.region},
                             source{"public-host", "BERTH_PUBLIC_HOST", &s.public_host},
                             source{"tls-cert", "BERTH_TLS_CERT", &s.tls_cert},
                             source{"tls-key", "BERTH_TLS_KEY", &s.tls_key},
                             source{"metrics-listen", "BERTH_METRICS_LISTEN", &s.metrics_listen},
                             source{"", "BERTH_METADATA_DRIVER", &s.metadata_driver},
                             source{"", "BERTH_METADATA_DSN", &s.metadata_dsn},
                             source{"", "BERTH_STORAGE_DRIVER", &s.storage_driver},
                             source{"", "BERTH_S3_ENDPOINT", &s.s3_endpoint},
                             source{"", "BERTH_S3_REGION", &s.s3_region},
                             source{"", "BERTH_S3_BUCKET", &s.s3_bucket},
                             source{"", "BERTH_S3_ACCESS_KEY_ID", &s.s3_access_key_id},
                             source{"", "BERTH_S3_SECRET_ACCESS_KEY", &s.s3_secret_access_key},
                             source{"", "BERTH_ROOT_ACCESS_KEY_ID", &s.root.access_key_id},
                             source{"", "BERTH_ROOT_SECRET_ACCESS_KEY", &s.root.secret_access_key}}) {
    if (auto v = env(e); !v.empty()) *field = v;
    if (auto v = *f ? flag(f) : std::string(); !v.empty()) *field = v;
  }
  for (auto [e, field] :
       {std::pair{"BERTH_S3_PATH_STYLE", &s.s3_path_style}, std::pair{"BERTH_S3_REDIRECT", &s.s3_redirect},
        std::pair{"BERTH_ANONYMOUS_PULL", &s.anonymous_pull}, std::pair{"BERTH_ACCESS_LOG", &s.access_log},
        std::pair{"BERTH_METRICS_PUBLIC", &s.metrics_public}, std::pair{"BERTH_ECR_HOSTNAMES", &s.ecr_hostnames}}) {
    if (auto v = env(e); !v.empty()) {
      if (auto r = parse_bool(v, *field, e); !r) return r.take_error();
    }
  }
  if (flags.count("access-log")) s.access_log = true;
  if (flags.count("ecr-hostnames")) s.ecr_hostnames = true;
  if (auto v = env("BERTH_S3_PART_SIZE"); !v.empty()) {
    auto n = parse_non_negative(v, "BERTH_S3_PART_SIZE");
    if (!n) return n.take_error();
    s.s3_part_size = *n;
  }
  if (auto v = env("BERTH_TOKEN_LIFETIME_SECONDS"); !v.empty()) {
    auto n = parse_non_negative(v, "BERTH_TOKEN_LIFETIME_SECONDS");
    if (!n) return n.take_error();
    s.token_lifetime_seconds = *n;
  }
  std::string expiry = env("BERTH_UPLOAD_EXPIRY_SECONDS");
  if (auto v = flag("upload-expiry"); !v.empty()) expiry = v;
  if (!expiry.empty()) {
    auto secs = parse_non_negative(expiry, "upload expiry");
    if (!secs) return secs.take_error();
    s.upload_expiry_seconds = *secs;
  }
  if (auto r = validate(s); !r) return r.take_error();
  return s;
}

}  // namespace berth::config
