#include "berth/config/config.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace berth::config {
namespace {

using json = nlohmann::json;

error bad(std::string message) { return make_error(errc::internal, std::move(message)); }

template <class T>
result<void> read_int(const json& obj, const char* key, T& out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
    return bad(where + "." + key + " must be a non-negative integer");
  out = static_cast<T>(it->get<std::int64_t>());
  return {};
}

result<void> read_string(const json& obj, const char* key, std::string& out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_string()) return bad(where + "." + key + " must be a string");
  out = it->get<std::string>();
  return {};
}

result<void> read_bool(const json& obj, const char* key, bool& out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_boolean()) return bad(where + "." + key + " must be true or false");
  out = it->get<bool>();
  return {};
}

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

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known key an unknown one was probably meant to be: one it begins (gc.grace ->
// gc.grace_seconds) or a misspelling of (lisen -> listen).
std::string closest_key(const std::string& unknown, std::initializer_list<const char*> keys) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, unknown.size() / 3) + 1;
  for (std::string_view key : keys) {
    if (key.starts_with(unknown) || std::string_view(unknown).starts_with(key)) return std::string(key);
    if (auto d = edit_distance(unknown, key); d < best_distance) {
      best_distance = d;
      best = key;
    }
  }
  return best;
}

result<void> only_keys(const json& obj, std::initializer_list<const char*> keys, const std::string& where) {
  if (!obj.is_object()) return bad(where + " must be an object");
  const std::string prefix = where == "config" ? "" : where + ".";
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (auto key : keys) known = known || k == key;
    if (known) continue;
    auto hint = closest_key(k, keys);
    return bad("unknown configuration key " + prefix + k +
               (hint.empty() ? "" : " (did you mean " + prefix + hint + "?)"));
  }
  return {};
}

// An absolute http(s) URL with a host and no spaces (the event sink posts to it as it is).
bool webhook_url_ok(const std::string& url) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return false;
  }
  const auto host = rest.substr(0, rest.find_first_of("/?"));
  return !host.empty() && url.find_first_of(" \t\r\n@") == std::string::npos && url.size() <= 2048;
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
  if (s.account_id.size() != 12 || s.account_id.find_first_not_of("0123456789") != std::string::npos) {
    return bad("registry account id must be 12 digits, got '" + s.account_id + "'");
  }
  if (s.region.empty() || s.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return bad("invalid region '" + s.region + "'");
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

result<settings> apply_json(settings s, const std::string& json_text) {
  json doc;
  try {
    doc = json::parse(json_text, nullptr, true, true);
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> "line 3, column 5: ...";
    // a number out of range (1e999) is an out_of_range error, with no position.
    std::string what = e.what();
    if (auto at = what.find(" at line "); at != std::string::npos) {
      what = what.substr(at + 4);
    } else if (auto close = what.find("] "); close != std::string::npos) {
      what = what.substr(close + 2);
    }
    return bad("not valid JSON: " + what);
  }
  if (auto r = only_keys(doc,
                         {"listen", "data_dir", "log", "uploads", "http", "auth", "registry", "lifecycle", "gc", "tls",
                          "metadata", "storage", "pull_through_cache", "replication", "metrics", "events"},
                         "config");
      !r) {
    return r.take_error();
  }
  if (auto it = doc.find("tls"); it != doc.end()) {
    if (auto r = only_keys(*it, {"cert", "key"}, "tls"); !r) return r.take_error();
    if (auto r = read_string(*it, "cert", s.tls_cert, "tls"); !r) return r.take_error();
    if (auto r = read_string(*it, "key", s.tls_key, "tls"); !r) return r.take_error();
  }
  if (auto it = doc.find("metadata"); it != doc.end()) {
    if (auto r = only_keys(*it, {"driver", "dsn", "max_connections"}, "metadata"); !r) return r.take_error();
    if (auto r = read_string(*it, "driver", s.metadata_driver, "metadata"); !r) return r.take_error();
    if (auto r = read_string(*it, "dsn", s.metadata_dsn, "metadata"); !r) return r.take_error();
    if (auto r = read_int(*it, "max_connections", s.metadata_max_connections, "metadata"); !r) return r.take_error();
  }
  if (auto it = doc.find("storage"); it != doc.end()) {
    if (auto r = only_keys(*it, {"driver", "s3"}, "storage"); !r) return r.take_error();
    if (auto r = read_string(*it, "driver", s.storage_driver, "storage"); !r) return r.take_error();
    if (auto s3 = it->find("s3"); s3 != it->end()) {
      const std::string where = "storage.s3";
      if (auto r = only_keys(*s3,
                             {"endpoint", "region", "bucket", "access_key_id", "secret_access_key", "path_style",
                              "redirect", "part_size"},
                             where);
          !r) {
        return r.take_error();
      }
      for (auto [key, field] :
           {std::pair{"endpoint", &s.s3_endpoint}, std::pair{"region", &s.s3_region}, std::pair{"bucket", &s.s3_bucket},
            std::pair{"access_key_id", &s.s3_access_key_id}, std::pair{"secret_access_key", &s.s3_secret_access_key}}) {
        if (auto r = read_string(*s3, key, *field, where); !r) return r.take_error();
      }
      if (auto r = read_bool(*s3, "path_style", s.s3_path_style, where); !r) return r.take_error();
      if (auto r = read_bool(*s3, "redirect", s.s3_redirect, where); !r) return r.take_error();
      if (auto r = read_int(*s3, "part_size", s.s3_part_size, where); !r) return r.take_error();
    }
  }
  if (auto it = doc.find("pull_through_cache"); it != doc.end()) {
    const std::string where = "pull_through_cache";
    if (auto r = only_keys(*it, {"insecure_upstreams", "tag_check_seconds"}, where); !r) return r.take_error();
    if (auto list = it->find("insecure_upstreams"); list != it->end()) {
      if (!list->is_array()) return bad("pull_through_cache.insecure_upstreams must be an array of host[:port]");
      s.insecure_upstreams.clear();
      for (const auto& u : *list) {
        if (!u.is_string() || u.get<std::string>().empty() || u.get<std::string>().find('/') != std::string::npos) {
          return bad("pull_through_cache.insecure_upstreams must be an array of host[:port]");
        }
        s.insecure_upstreams.push_back(u.get<std::string>());
      }
    }
    if (auto r = read_int(*it, "tag_check_seconds", s.cache_tag_check_seconds, where); !r) return r.take_error();
  }
  if (auto it = doc.find("replication"); it != doc.end()) {
    const std::string where = "replication";
    if (auto r = only_keys(*it, {"peers", "retry_base_seconds", "retry_max_seconds", "max_attempts", "workers"}, where);
        !r) {
      return r.take_error();
    }
    if (auto list = it->find("peers"); list != it->end()) {
      if (!list->is_array()) return bad("replication.peers must be an array of peers");
      s.replication_peers.clear();
      for (const auto& p : *list) {
        const std::string at = "replication.peers[" + std::to_string(s.replication_peers.size()) + "]";
        if (!p.is_object()) return bad(at + " must be an object");
        if (auto r = only_keys(p, {"region", "registry_id", "endpoint", "access_key_id", "secret_access_key"}, at);
            !r) {
          return r.take_error();
        }
        settings::replication_peer peer;
        for (auto [key, field] :
             {std::pair{"region", &peer.region}, std::pair{"registry_id", &peer.registry_id},
              std::pair{"endpoint", &peer.endpoint}, std::pair{"access_key_id", &peer.access_key_id},
              std::pair{"secret_access_key", &peer.secret_access_key}}) {
          if (auto r = read_string(p, key, *field, at); !r) return r.take_error();
          if (field->empty()) return bad(at + "." + key + " is required");
        }
        if (peer.registry_id.size() != 12 || peer.registry_id.find_first_not_of("0123456789") != std::string::npos) {
          return bad(at + ".registry_id must be 12 digits");
        }
        if (!peer.endpoint.starts_with("http://") && !peer.endpoint.starts_with("https://")) {
          return bad(at + ".endpoint must be http(s)://host[:port]");
        }
        for (const auto& other : s.replication_peers) {
          if (other.region == peer.region && other.registry_id == peer.registry_id) {
            return bad(at + " repeats the destination " + peer.region + "/" + peer.registry_id);
          }
        }
        s.replication_peers.push_back(std::move(peer));
      }
    }
    for (auto [key, field] :
         {std::pair{"retry_base_seconds", &s.replication_retry_base_seconds},
          std::pair{"retry_max_seconds", &s.replication_retry_max_seconds},
          std::pair{"max_attempts", &s.replication_max_attempts}, std::pair{"workers", &s.replication_workers}}) {
      if (auto r = read_int(*it, key, *field, where); !r) return r.take_error();
      if (*field < 1) return bad(where + "." + key + " must be at least 1");
    }
    if (s.replication_workers > 64) return bad("replication.workers must be at most 64");
    if (s.replication_max_attempts > 100000) return bad("replication.max_attempts must be at most 100000");
    if (s.replication_retry_base_seconds > s.replication_retry_max_seconds) {
      return bad("replication.retry_base_seconds must not exceed replication.retry_max_seconds");
    }
  }
  if (auto it = doc.find("events"); it != doc.end()) {
    const std::string where = "events";
    if (auto r = only_keys(
            *it, {"webhooks", "retry_base_seconds", "retry_max_seconds", "max_attempts", "timeout_seconds"}, where);
        !r) {
      return r.take_error();
    }
    if (auto list = it->find("webhooks"); list != it->end()) {
      if (!list->is_array()) return bad("events.webhooks must be an array of {\"url\": ..., \"secret\": ...}");
      s.event_webhooks.clear();
      for (const auto& w : *list) {
        const std::string at = "events.webhooks[" + std::to_string(s.event_webhooks.size()) + "]";
        if (!w.is_object()) return bad(at + " must be an object");
        if (auto r = only_keys(w, {"url", "secret"}, at); !r) return r.take_error();
        settings::event_webhook hook;
        if (auto r = read_string(w, "url", hook.url, at); !r) return r.take_error();
        if (auto r = read_string(w, "secret", hook.secret, at); !r) return r.take_error();
        if (!webhook_url_ok(hook.url)) return bad(at + ".url must be an http:// or https:// URL");
        for (const auto& other : s.event_webhooks) {
          if (other.url == hook.url) return bad(at + " repeats the webhook " + hook.url);
        }
        s.event_webhooks.push_back(std::move(hook));
      }
      if (s.event_webhooks.size() > 16) return bad("events.webhooks may list at most 16 webhooks");
    }
    for (auto [key, field] :
         {std::pair{"retry_base_seconds", &s.events_retry_base_seconds},
          std::pair{"retry_max_seconds", &s.events_retry_max_seconds},
          std::pair{"max_attempts", &s.events_max_attempts}, std::pair{"timeout_seconds", &s.events_timeout_seconds}}) {
      if (auto r = read_int(*it, key, *field, where); !r) return r.take_error();
      if (*field < 1) return bad(where + "." + key + " must be at least 1");
    }
    if (s.events_max_attempts > 100000) return bad("events.max_attempts must be at most 100000");
    if (s.events_timeout_seconds > 300) return bad("events.timeout_seconds must be at most 300");
    if (s.events_retry_max_seconds > 86400) return bad("events.retry_max_seconds must be at most 86400");
    if (s.events_retry_base_seconds > s.events_retry_max_seconds) {
      return bad("events.retry_base_seconds must not exceed events.retry_max_seconds");
    }
  }
  if (auto it = doc.find("lifecycle"); it != doc.end()) {
    if (auto r = only_keys(*it, {"interval_seconds"}, "lifecycle"); !r) return r.take_error();
    if (auto r = read_int(*it, "interval_seconds", s.lifecycle_interval_seconds, "lifecycle"); !r)
      return r.take_error();
  }
  if (auto it = doc.find("gc"); it != doc.end()) {
    if (auto r = only_keys(*it, {"interval_seconds", "grace_seconds", "untagged"}, "gc"); !r) return r.take_error();
    if (auto r = read_int(*it, "interval_seconds", s.gc_interval_seconds, "gc"); !r) return r.take_error();
    if (auto r = read_int(*it, "grace_seconds", s.gc_grace_seconds, "gc"); !r) return r.take_error();
    if (auto r = read_string(*it, "untagged", s.gc_untagged, "gc"); !r) return r.take_error();
  }
  if (auto it = doc.find("auth"); it != doc.end()) {
    if (auto r = only_keys(*it, {"mode", "root", "users", "token_lifetime_seconds", "anonymous_pull"}, "auth"); !r)
      return r.take_error();
    if (auto r = read_string(*it, "mode", s.auth_mode, "auth"); !r) return r.take_error();
    if (auto r = read_int(*it, "token_lifetime_seconds", s.token_lifetime_seconds, "auth"); !r) return r.take_error();
    if (auto r = read_bool(*it, "anonymous_pull", s.anonymous_pull, "auth"); !r) return r.take_error();
    auto read_user = [&](const json& u, const std::string& where, user_credentials& out) -> result<void> {
      if (auto r = only_keys(u, {"name", "access_key_id", "secret_access_key"}, where); !r) return r;
      if (auto r = read_string(u, "name", out.name, where); !r) return r;
      if (auto r = read_string(u, "access_key_id", out.access_key_id, where); !r) return r;
      return read_string(u, "secret_access_key", out.secret_access_key, where);
    };
    if (auto root = it->find("root"); root != it->end()) {
      if (auto r = read_user(*root, "auth.root", s.root); !r) return r.take_error();
    }
    if (auto users = it->find("users"); users != it->end()) {
      if (!users->is_array()) return bad("auth.users must be an array");
      for (const auto& u : *users) {
        user_credentials c;
        if (auto r = read_user(u, "auth.users[]", c); !r) return r.take_error();
        s.users.push_back(std::move(c));
      }
    }
  }
  if (auto it = doc.find("registry"); it != doc.end()) {
    if (auto r = only_keys(*it, {"account_id", "region", "public_host"}, "registry"); !r) return r.take_error();
    if (auto r = read_string(*it, "account_id", s.account_id, "registry"); !r) return r.take_error();
    if (auto r = read_string(*it, "region", s.region, "registry"); !r) return r.take_error();
    if (auto r = read_string(*it, "public_host", s.public_host, "registry"); !r) return r.take_error();
  }
  if (auto r = read_string(doc, "listen", s.listen, "config"); !r) return r.take_error();
  if (auto r = read_string(doc, "data_dir", s.data_dir, "config"); !r) return r.take_error();
  if (auto it = doc.find("log"); it != doc.end()) {
    if (auto r = only_keys(*it, {"format", "level", "access"}, "log"); !r) return r.take_error();
    if (auto r = read_string(*it, "format", s.log_format, "log"); !r) return r.take_error();
    if (auto r = read_string(*it, "level", s.log_level, "log"); !r) return r.take_error();
    if (auto r = read_bool(*it, "access", s.access_log, "log"); !r) return r.take_error();
  }
  if (auto it = doc.find("metrics"); it != doc.end()) {
    if (auto r = only_keys(*it, {"listen", "public"}, "metrics"); !r) return r.take_error();
    if (auto r = read_string(*it, "listen", s.metrics_listen, "metrics"); !r) return r.take_error();
    if (auto r = read_bool(*it, "public", s.metrics_public, "metrics"); !r) return r.take_error();
  }
  if (auto it = doc.find("uploads"); it != doc.end()) {
    if (auto r = only_keys(*it, {"expiry_seconds", "max_sessions_per_repository"}, "uploads"); !r)
      return r.take_error();
    if (auto r = read_int(*it, "expiry_seconds", s.upload_expiry_seconds, "uploads"); !r) return r.take_error();
    if (auto r = read_int(*it, "max_sessions_per_repository", s.max_upload_sessions_per_repository, "uploads"); !r) {
      return r.take_error();
    }
  }
  if (auto it = doc.find("http"); it != doc.end()) {
    if (auto r = only_keys(*it,
                           {"io_threads", "worker_threads", "header_timeout_seconds", "body_idle_timeout_seconds",
                            "shutdown_grace_seconds", "max_connections", "max_header_bytes", "max_json_body_bytes"},
                           "http");
        !r) {
      return r.take_error();
    }
    for (auto [key, field] :
         {std::pair{"header_timeout_seconds", &s.header_timeout_seconds},
          std::pair{"body_idle_timeout_seconds", &s.body_idle_timeout_seconds},
          std::pair{"shutdown_grace_seconds", &s.shutdown_grace_seconds},
          std::pair{"max_connections", &s.max_connections}, std::pair{"max_header_bytes", &s.max_header_bytes},
          std::pair{"max_json_body_bytes", &s.max_json_body_bytes}}) {
      if (auto r = read_int(*it, key, *field, "http"); !r) return r.take_error();
    }
    if (auto r = read_int(*it, "io_threads", s.io_threads, "http"); !r) return r.take_error();
    if (auto r = read_int(*it, "worker_threads", s.worker_threads, "http"); !r) return r.take_error();
    if (s.worker_threads == 0) return bad("http.worker_threads must be at least 1");
  }
  return s;
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
        std::pair{"BERTH_METRICS_PUBLIC", &s.metrics_public}}) {
    if (auto v = env(e); !v.empty()) {
      if (auto r = parse_bool(v, *field, e); !r) return r.take_error();
    }
  }
  if (flags.count("access-log")) s.access_log = true;
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
