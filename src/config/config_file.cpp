// The configuration file: JSON sections read onto settings, each key checked for its type, unknown
// keys refused with the known one they were probably meant to be.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <vector>

#include "berth/config/config.hpp"
#include "config_error.hpp"

namespace berth::config {
namespace {

using json = nlohmann::json;

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

}  // namespace

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
    if (auto r = only_keys(*it, {"account_id", "region", "public_host", "ecr_hostnames"}, "registry"); !r) {
      return r.take_error();
    }
    if (auto r = read_bool(*it, "ecr_hostnames", s.ecr_hostnames, "registry"); !r) return r.take_error();
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

}  // namespace berth::config
