// The typed configuration tree: defaults, then the JSON file, then BERTH_* environment
// variables, then command-line flags. Validated once, at start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::config {

struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};

struct user_credentials {
  std::string name;
  std::string access_key_id;
  std::string secret_access_key;
};

struct settings {
  std::string listen = "0.0.0.0:5000";
  std::string data_dir = "./berth-data";
  std::string log_format = "text";  // text | json
  std::string log_level = "info";   // trace | debug | info | warn | error
  bool access_log = false;          // a line per request (log.format decides text or JSON)
  std::string metrics_listen;       // a second, plain-HTTP listener for /metrics, /healthz, /readyz
  bool metrics_public = false;      // /metrics on the main listener without credentials
  std::int64_t upload_expiry_seconds = 24 * 3600;
  unsigned io_threads = 0;
  unsigned worker_threads = 4;
  std::int64_t header_timeout_seconds = 60;
  std::int64_t body_idle_timeout_seconds = 300;
  std::int64_t shutdown_grace_seconds = 5;
  std::int64_t max_connections = 1024;
  std::int64_t max_header_bytes = 64 * 1024;
  std::int64_t max_json_body_bytes = 32 * 1024 * 1024;
  std::int64_t max_upload_sessions_per_repository = 1000;
  // Authentication and the identity of the registry as ECR clients see it.
  std::string auth_mode = "sigv4";  // sigv4 | none
  user_credentials root;            // empty: from the data directory, generated on first start
  std::vector<user_credentials> users;
  std::int64_t token_lifetime_seconds = 12 * 3600;  // login tokens (GetAuthorizationToken), 15 min … 7 days
  // Pulls without credentials of repositories whose policy allows Principal "*" (off by default).
  bool anonymous_pull = false;
  std::string account_id = "000000000000";
  std::string region = "us-east-1";
  std::string public_host;  // host[:port] for repositoryUri/proxyEndpoint; "" → the request's Host
  // ECR's own host names (<account>.dkr.ecr.<region>.amazonaws.com and the API endpoints) in
  // repositoryUri, proxyEndpoint and the registry hosts answered; see docs/ecr-hostnames.md.
  bool ecr_hostnames = false;
  // Background maintenance while serving (0 turns a task off).
  std::int64_t lifecycle_interval_seconds = 3600;
  std::int64_t gc_interval_seconds = 3600;
  std::int64_t gc_grace_seconds = 24 * 3600;
  std::string gc_untagged = "keep";  // keep (as ECR does) | delete
  // Pull-through cache: upstreams reached over plain HTTP (host[:port]; every other is HTTPS), how
  // often a cached tag is compared with its upstream, and whether this server runs imports.
  std::vector<std::string> insecure_upstreams;
  std::int64_t cache_tag_check_seconds = 24 * 3600;
  // Replication: the peers a destination {region, registry_id} of the replication configuration
  // names (another Berth: its endpoint and the credentials to sign in there with), the back-off of
  // a failing copy and how many attempts it gets, and how many copies run at once per server.
  struct replication_peer {
    std::string region;
    std::string registry_id;
    std::string endpoint;
    std::string access_key_id;
    std::string secret_access_key;
  };
  std::vector<replication_peer> replication_peers;
  std::int64_t replication_retry_base_seconds = 5;
  std::int64_t replication_retry_max_seconds = 600;
  std::int64_t replication_max_attempts = 100;
  std::int64_t replication_workers = 2;
  // Events: the webhooks every image push and deletion is posted to (an optional HMAC secret
  // each), the back-off of a failing receiver, how many attempts an event gets, and how long a
  // post may take.
  struct event_webhook {
    std::string url;
    std::string secret;
  };
  std::vector<event_webhook> event_webhooks;
  std::int64_t events_retry_base_seconds = 1;
  std::int64_t events_retry_max_seconds = 300;
  std::int64_t events_max_attempts = 1000;
  std::int64_t events_timeout_seconds = 10;
  std::string tls_cert;  // PEM chain; with tls_key: the listener speaks TLS 1.2+ only
  std::string tls_key;
  // Where metadata lives: sqlite (the data directory's berth.db) or postgres (a database N servers share).
  std::string metadata_driver = "sqlite";  // sqlite | postgres
  std::string metadata_dsn;                // postgres: a libpq connection string or URI
  std::int64_t metadata_max_connections = 16;
  // Where blob and upload bytes live: filesystem (under data_dir) or s3 (a bucket N servers share).
  std::string storage_driver = "filesystem";  // filesystem | s3
  std::string s3_endpoint;                    // http(s)://host[:port]
  std::string s3_region = "us-east-1";
  std::string s3_bucket;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  bool s3_path_style = true;
  bool s3_redirect = false;                      // blob GETs: 307 to a presigned URL
  std::int64_t s3_part_size = 16 * 1024 * 1024;  // multipart part size, 5 MiB … 5 GiB
};

// Flags given on the command line, by long name without dashes ("listen", "data-dir", ...).
using flag_map = std::map<std::string, std::string>;
// Looks up an environment variable; injectable for tests.
using env_lookup = std::string (*)(const char* name);

std::string process_env(const char* name);

result<settings> load(const flag_map& flags, env_lookup env = process_env);
result<settings> apply_json(settings s, const std::string& json_text);
result<listen_address> parse_listen(const std::string& text);

}  // namespace berth::config
