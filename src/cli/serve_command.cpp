// berth serve: opens the data directory and serves the registry until SIGINT/SIGTERM.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <stop_token>
#include <thread>

#include "berth/cli/api_router.hpp"
#include "berth/cli/commands.hpp"
#include "berth/cli/data_dir.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/cli/key_files.hpp"
#include "berth/cli/request_log.hpp"
#include "berth/config/config.hpp"
#include "berth/core/doorbell.hpp"
#include "berth/core/ecr_host_names.hpp"
#include "berth/http/observer_fanout.hpp"
#include "berth/http/server.hpp"
#include "berth/observability/ops_endpoints.hpp"
#include "berth/observability/token_scrape_gate.hpp"
#include "berth/oci/v2_handler.hpp"
#include "berth/registry/access_control.hpp"
#include "berth/registry/duty_roster.hpp"
#include "berth/registry/garbage_collector.hpp"
#include "berth/registry/identity_directory.hpp"
#include "berth/registry/pull_through_cache.hpp"
#include "berth/registry/registry.hpp"
#include "berth/registry/registry_status.hpp"
#include "berth/registry/replicator.hpp"
#include "berth/registry/resource_policies.hpp"
#include "berth/registry/secret_vault.hpp"
#include "berth/upstream/http_replication_target.hpp"
#include "berth/upstream/http_upstream.hpp"

namespace berth::cli {
namespace {

constexpr const char* serve_help = R"(Usage: berth serve [options]

Serves the registry (Docker Registry V2 / OCI distribution API).

Options (a flag beats its environment variable, which beats the config file):
  --listen HOST:PORT     address to listen on            [BERTH_LISTEN, default 0.0.0.0:5000]
  --data-dir DIR         blobs, uploads and metadata     [BERTH_DATA_DIR, default ./berth-data]
  --config FILE          JSON configuration file         [BERTH_CONFIG]
  --log-format FORMAT    text or json                    [BERTH_LOG_FORMAT, default text]
  --log-level LEVEL      trace, debug, info, warn, error [BERTH_LOG_LEVEL, default info]
  --upload-expiry SECS   abandoned upload lifetime       [BERTH_UPLOAD_EXPIRY_SECONDS, default 86400]
  --auth MODE            sigv4 (ECR credentials and login tokens) or none (no authentication at all)
                                                         [BERTH_AUTH, default sigv4]
  --account-id ID        12-digit registry id            [BERTH_ACCOUNT_ID, default 000000000000]
  --region REGION        region clients sign for         [BERTH_REGION, default us-east-1]
  --public-host HOST     host[:port] in repositoryUri and proxyEndpoint
                                                         [BERTH_PUBLIC_HOST, default: the request's Host]
  --ecr-hostnames        answer as ECR's own host names: ACCOUNT.dkr.ecr.REGION.amazonaws.com in
                         repositoryUri and proxyEndpoint (docs/ecr-hostnames.md)
                                                         [BERTH_ECR_HOSTNAMES, default off]
  --tls-cert FILE        PEM certificate chain: serve TLS 1.2+ only (reloaded on SIGHUP)
                                                         [BERTH_TLS_CERT]
  --tls-key FILE         PEM private key for --tls-cert  [BERTH_TLS_KEY]
  --metrics-listen HOST:PORT
                         a second, plain-HTTP listener serving only /metrics, /healthz and /readyz,
                         /metrics without credentials    [BERTH_METRICS_LISTEN, default: none]
  --access-log           a log line per request           [BERTH_ACCESS_LOG, default off]
  -h, --help             show this help

GET /healthz and /readyz need no credentials; GET /metrics on the main listener needs a login token
allowed ecr:DescribeRegistry unless metrics.public is set (docs/operations.md).

The root access key comes from BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY (or the
config file); without them Berth generates one on first start, keeps it in DIR/root-credentials.json
(mode 0600) and prints it once.
)";

// A thread that works a durable queue until shutdown: `next` runs one item (false: none was due),
// and the thread waits `idle` before it looks again, or less when `bell` rings.
template <class Next>
std::jthread queue_worker(const char* what, std::chrono::milliseconds idle, Next next, doorbell* bell = nullptr) {
  return std::jthread([what, idle, next = std::move(next), bell](std::stop_token stop) mutable {
    doorbell quiet;  // never rung: a worker without a bell only polls
    doorbell& wake = bell ? *bell : quiet;
    while (!stop.stop_requested()) {
      const auto seen = wake.rung();
      bool worked = false;
      try {
        worked = next();
      } catch (const std::exception& e) {
        spdlog::error("{} failed: {}", what, e.what());
      }
      if (!worked) wake.wait(stop, seen, idle);
    }
  });
}

}  // namespace

int serve_command(const std::vector<std::string>& args) {
  auto parsed = parse_flags(args,
                            {"listen", "data-dir", "config", "log-format", "log-level", "upload-expiry", "auth",
                             "account-id", "region", "public-host", "tls-cert", "tls-key", "metrics-listen"},
                            {"access-log", "ecr-hostnames"}, "serve");
  if (!parsed) return fail(parsed.error_value().message);
  if (parsed->help) {
    std::cout << serve_help;
    return 0;
  }
  auto loaded = config::load(parsed->values);
  if (!loaded) return fail(loaded.error_value().message);
  const auto& cfg = *loaded;
  configure_logging(cfg.log_format, cfg.log_level);

  std::filesystem::path data_dir = cfg.data_dir;
  // A start that fails (a busy port, a bad certificate) leaves no data directory it made behind.
  // Declared before the data directory is opened, so it runs after everything in it is closed.
  struct remove_unless_started {
    std::filesystem::path path;
    bool armed;
    ~remove_unless_started() {
      std::error_code ec;
      if (armed) std::filesystem::remove_all(path, ec);
    }
  } cleanup{data_dir, !std::filesystem::exists(data_dir)};
  auto opened = open_data_dir(cfg, true);
  if (!opened) return fail(opened.error_value().message);
  auto& reg = *(*opened)->reg;
  auto& clk = (*opened)->clk;

  // Identities: the root key (configured, or kept in the secret store) and configured users.
  auto& secrets = *(*opened)->secrets;
  std::vector<auth::credential> credentials;
  config::user_credentials root = cfg.root;
  bool print_root = false;
  std::string root_source = config::process_env("BERTH_ROOT_ACCESS_KEY_ID").empty()
                                ? "from the config file (auth.root)"
                                : "from the environment (BERTH_ROOT_ACCESS_KEY_ID)";
  if (root.access_key_id.empty()) {
    auto stored = load_or_generate_root_key(secrets);
    if (!stored) return fail(stored.error_value().message);
    root = stored->credentials;
    print_root = stored->generated;
    root_source = std::string(stored->generated ? "generated now, kept in " : "generated on first start, kept in ") +
                  secrets.location(root_credentials_secret);
  }
  credentials.push_back(auth::credential{"root", root.access_key_id, root.secret_access_key, true});
  for (const auto& u : cfg.users) {
    credentials.push_back(auth::credential{u.name, u.access_key_id, u.secret_access_key, false});
    spdlog::info("configured user {} (auth.users, key {}) has full access: no policy applies to it", u.name,
                 u.access_key_id);
  }
  auth::credential_store configured(cfg.account_id, std::move(credentials));
  auto signing_key = load_or_create_signing_key(secrets);
  if (!signing_key) return fail(signing_key.error_value().message);
  auto sealing_key = load_or_create_sealing_key(secrets);
  if (!sealing_key) return fail(sealing_key.error_value().message);
  auth::secret_sealer sealer(*sealing_key);
  // Callers: the configured identities, then the IAM users of the metadata, with their policies.
  access_control access((*opened)->backends(), configured, sealer, access_settings{cfg.account_id, cfg.region});
  std::vector<std::string> configured_names;
  for (const auto& u : cfg.users) configured_names.push_back(u.name);
  identity_directory directory((*opened)->backends(), sealer, clk, cfg.account_id, configured_names);
  auth::login_token_issuer tokens(*signing_key, access, cfg.token_lifetime_seconds);
  auth::blob_url_signer blob_urls(*signing_key);

  const bool auth_enabled = cfg.auth_mode != "none";
  if (!auth_enabled) {
    spdlog::warn("authentication is OFF (auth: none): anyone who can reach {} can push, pull and delete", cfg.listen);
  }
  if (auth_enabled && cfg.anonymous_pull) {
    spdlog::warn(
        "anonymous pull is ON (auth.anonymous_pull): anyone who can reach {} can pull from repositories "
        "whose policy allows Principal \"*\"",
        cfg.listen);
  }
  const std::string scheme = cfg.tls_cert.empty() ? "http" : "https";
  // Secrets (Secrets Manager API) and the pull-through cache that reads its upstream credentials there.
  secret_vault vault((*opened)->backends(), sealer, clk, cfg.account_id, cfg.region);
  pull_through_rules cache_rules((*opened)->backends(), vault, clk);
  upstream::http_upstream_connector upstreams(upstream::upstream_settings{cfg.insecure_upstreams});
  cache_settings cache_cfg;
  cache_cfg.tag_check_seconds = cfg.cache_tag_check_seconds;
  pull_through_cache cache(reg, (*opened)->backends(), cache_rules, upstreams, clk, cache_cfg);
  // Replication: the configuration (data), the peers (config), and the worker that copies pushes.
  std::vector<replication_peer> peers;
  for (const auto& p : cfg.replication_peers) {
    peers.push_back(replication_peer{p.region, p.registry_id, p.endpoint, p.access_key_id, p.secret_access_key});
  }
  replication_rules replication((*opened)->backends(), std::move(peers), cfg.account_id, cfg.region, clk);
  reg.set_replication(&replication);
  upstream::http_replication_connector replication_peers(upstream::replication_client_settings{cfg.account_id}, clk);
  replication_settings replication_cfg;
  replication_cfg.retry_base_seconds = cfg.replication_retry_base_seconds;
  replication_cfg.retry_max_seconds = cfg.replication_retry_max_seconds;
  replication_cfg.max_attempts = static_cast<int>(cfg.replication_max_attempts);
  replicator replication_worker(reg, (*opened)->backends(), replication, replication_peers, clk, replication_cfg);
  oci::v2_authenticator v2_auth(tokens, blob_urls, clk, scheme, &access, cfg.anonymous_pull ? &access : nullptr);
  oci::v2_handler v2(reg, auth_enabled ? &v2_auth : nullptr, auth_enabled ? &access : nullptr, &cache);
  ecr::ecr_settings ecr_cfg;
  ecr_cfg.account_id = cfg.account_id;
  ecr_cfg.region = cfg.region;
  ecr_cfg.public_host = cfg.public_host;
  ecr_cfg.scheme = scheme;
  if (cfg.ecr_hostnames) {
    // ECR's clients reach these names on 443 over TLS, whether Berth or a proxy in front ends it.
    ecr_cfg.public_host = ecr_registry_host(cfg.account_id, cfg.region);
    ecr_cfg.scheme = "https";
  }
  ecr_cfg.auth_enabled = auth_enabled;
  ecr_cfg.max_json_body = static_cast<std::size_t>(cfg.max_json_body_bytes);
  resource_policies policies((*opened)->backends(), clk, cfg.account_id);
  ecr::ecr_api ecr(reg, *(*opened)->lifecycle, access, tokens, blob_urls, clk, ecr_cfg,
                   auth_enabled ? ecr::ecr_access{&access, &policies, &directory} : ecr::ecr_access{},
                   ecr::ecr_cache{&cache_rules, &upstreams}, ecr::ecr_replication{&replication, &replication_worker});
  iam::query_api query(directory, access, access, clk, iam::query_settings{cfg.account_id});
  secrets::secrets_api secrets_json(vault, auth_enabled ? &access : nullptr, access, clk,
                                    secrets::secrets_settings{cfg.region, auth_enabled});
  // The operator's endpoints: on the main listener (/metrics behind a login token unless opened), and
  // on the metrics listener when one is configured (open: reach it only from the monitoring network).
  observability::request_metrics request_counts;
  observability::maintenance_metrics maintenance_counts;
  registry_status status((*opened)->backends(), clk, std::chrono::seconds(10));
  std::unique_ptr<http::server> srv_ptr;
  auto in_progress = [&srv_ptr] { return srv_ptr ? srv_ptr->requests_in_progress() : std::size_t{0}; };
  observability::token_scrape_gate scrape_gate(tokens, access, clk);
  const bool metrics_open = !auth_enabled || cfg.metrics_public;
  std::function<event_counts()> event_totals;
  if (auto* e = (*opened)->events.get()) event_totals = [e] { return e->counts(); };
  observability::ops_endpoints ops(
      {request_counts, maintenance_counts, status, in_progress, BERTH_VERSION, event_totals},
      metrics_open ? nullptr : &scrape_gate);
  observability::ops_endpoints open_ops(
      {request_counts, maintenance_counts, status, in_progress, BERTH_VERSION, event_totals}, nullptr);
  api_router router(v2, ecr, auth_enabled ? &query : nullptr, &secrets_json, &ops);

  auto addr = config::parse_listen(cfg.listen);
  http::server_options opts;
  opts.host = addr->host;
  opts.port = addr->port;
  opts.io_threads = cfg.io_threads;
  opts.worker_threads = cfg.worker_threads;
  opts.header_timeout = std::chrono::seconds(cfg.header_timeout_seconds);
  opts.body_idle_timeout = std::chrono::seconds(cfg.body_idle_timeout_seconds);
  opts.shutdown_grace = std::chrono::seconds(cfg.shutdown_grace_seconds);
  opts.max_connections = static_cast<std::size_t>(cfg.max_connections);
  opts.max_header_bytes = static_cast<std::size_t>(cfg.max_header_bytes);
  opts.tls_cert = cfg.tls_cert;
  opts.tls_key = cfg.tls_key;
  request_log log(request_log_options{cfg.access_log, cfg.log_format == "json"});
  http::observer_fanout observers({&request_counts, &log});
  opts.observer = &observers;
  srv_ptr = std::make_unique<http::server>(opts, router);
  auto& srv = *srv_ptr;
  if (auto err = srv.listen(); !err.empty()) return fail(err);
  ops_router metrics_router(open_ops);
  std::unique_ptr<http::server> metrics_srv;
  if (!cfg.metrics_listen.empty()) {
    auto maddr = config::parse_listen(cfg.metrics_listen);
    http::server_options mopts;
    mopts.host = maddr->host;
    mopts.port = maddr->port;
    mopts.io_threads = 1;
    mopts.worker_threads = 1;
    mopts.max_connections = 64;
    mopts.max_header_bytes = 16 * 1024;
    mopts.header_timeout = std::chrono::seconds(30);
    mopts.shutdown_grace = std::chrono::seconds(1);
    mopts.name = "metrics listener";
    metrics_srv = std::make_unique<http::server>(mopts, metrics_router);
    if (auto err = metrics_srv->listen(); !err.empty()) return fail("metrics listener: " + err);
  }
  cleanup.armed = false;
  if (print_root) {
    // Saved and shown once, on the first start that gets this far; afterwards only in the file.
    auto saved = save_root_key(secrets, root);
    if (!saved) return fail(saved.error_value().message);
    if (saved->access_key_id != root.access_key_id) {
      return fail("another server stored a root key first (" + secrets.location(root_credentials_secret) +
                  "); start again to use it");
    }
  }
  if (print_root && auth_enabled) {
    std::fprintf(stderr,
                 "berth: generated the root access key (kept in %s):\n"
                 "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n",
                 secrets.location(root_credentials_secret).c_str(), root.access_key_id.c_str(),
                 root.secret_access_key.c_str());
  }

  // Duties one server does at a time (leases in the metadata); each lease outlasts the interval
  // between runs, so its holder keeps it while alive.
  duty_roster duties((*opened)->meta->leases(), clk, (*opened)->duty_holder);
  // Each maintenance run is timed and counted for the metrics.
  auto timed = [&maintenance_counts, &clk](const char* job, auto run) {
    const auto start = std::chrono::steady_clock::now();
    auto [items, bytes] = run();
    maintenance_counts.record(job, std::chrono::steady_clock::now() - start, items, bytes, clk.now_seconds());
  };
  srv.every(std::chrono::minutes(10), [&reg, &duties, timed] {
    duties.run("upload-expiry", 30 * 60, [&reg, timed] {
      timed("upload-expiry", [&reg] {
        auto n = reg.expire_uploads();
        if (n > 0) spdlog::info("expired {} abandoned upload(s)", n);
        return std::pair<std::uint64_t, std::uint64_t>{n, 0};
      });
    });
  });
  srv.every(std::chrono::seconds(2), [&reg] { reg.flush_pulls(); });
  srv.every(std::chrono::seconds(30), [&reg] { reg.renew_upload_claims(); });
  // Give the memory of past bursts (many concurrent uploads, listing walks) back to the system once
  // the server has been idle for a second: not while busy, where freed pages would be faulted
  // straight back in.
  srv.every(std::chrono::seconds(1), [&srv, &reg, seen = std::uint64_t{0}, trimmed = std::uint64_t{0}]() mutable {
    auto now = srv.requests_started();
    if (now == seen && now != trimmed && srv.requests_in_progress() == 0) {
      reg.release_memory();
      ::malloc_trim(0);
      trimmed = now;
    }
    seen = now;
  });
  auto& lifecycle_runs = *(*opened)->lifecycle;
  if (cfg.lifecycle_interval_seconds > 0) {
    srv.every(std::chrono::seconds(cfg.lifecycle_interval_seconds),
              [&lifecycle_runs, &duties, &srv, timed, lease = 2 * cfg.lifecycle_interval_seconds] {
                duties.run("lifecycle", lease, [&lifecycle_runs, &srv, timed] {
                  timed("lifecycle", [&lifecycle_runs, &srv] {
                    std::uint64_t expired = 0;
                    auto stopping = [&srv] { return srv.stopping(); };
                    for (const auto& r : lifecycle_runs.run_all(false, stopping)) expired += r.applied;
                    return std::pair<std::uint64_t, std::uint64_t>{expired, 0};
                  });
                });
              });
  }
  garbage_collector collector(reg, (*opened)->backends());
  if (cfg.gc_interval_seconds > 0) {
    gc_options gc_opts{cfg.gc_grace_seconds, cfg.gc_untagged == "delete", false, [&srv] { return srv.stopping(); }};
    srv.every(std::chrono::seconds(cfg.gc_interval_seconds), [&collector, &duties, timed, gc_opts,
                                                              lease = 2 * cfg.gc_interval_seconds] {
      duties.run("gc", lease, [&collector, &gc_opts, timed] {
        timed("gc", [&collector, &gc_opts] {
          auto report = collector.collect(gc_opts);
          return std::pair<std::uint64_t, std::uint64_t>{report.blobs.size() + report.images.size(), report.bytes};
        });
      });
    });
  }
  // Pull-through cache imports: a durable queue in the metadata, worked here until shutdown (any
  // server may take an import; one a server left unfinished is taken again when its hold expires).
  std::jthread importer =
      queue_worker("pull-through cache import", std::chrono::seconds(1),
                   [&cache, holder = (*opened)->duty_holder + "/imports"] { return cache.import_next(holder); });
  // Replication jobs: a durable queue in the metadata, written with each push the configuration
  // covers; these workers copy them until shutdown (a job a server left unfinished is taken again
  // when its hold expires, or at once by its successor on the same data directory).
  std::vector<std::jthread> replicators;
  for (std::int64_t i = 0; !cfg.replication_peers.empty() && i < cfg.replication_workers; ++i) {
    auto holder = (*opened)->duty_holder + "/replication/" + std::to_string(i);
    replication_worker.recover(holder);
    replicators.push_back(queue_worker("replication", std::chrono::milliseconds(500), [&replication_worker, holder] {
      return replication_worker.replicate_next(holder);
    }));
  }
  // Events: a durable outbox in the metadata, written with each push and deletion; these workers
  // post them until shutdown (the outbox keeps each repository's events in order whatever the
  // number of workers; two let a slow receiver hold up only its own events).
  std::vector<std::jthread> event_posters;
  for (int i = 0; (*opened)->events && i < 2; ++i) {
    auto holder = (*opened)->duty_holder + "/events/" + std::to_string(i);
    (*opened)->events->recover(holder);
    event_posters.push_back(queue_worker(
        "event delivery", std::chrono::milliseconds(250),
        [events = (*opened)->events.get(), holder] { return events->deliver_next(holder); },
        &(*opened)->events->bell()));
  }
  spdlog::info("berth {} listening on {}://{} (data directory {})", BERTH_VERSION, scheme, srv.bound_address(),
               std::filesystem::absolute(data_dir).lexically_normal().string());
  if (auth_enabled) spdlog::info("root access key {}: {}", root.access_key_id, root_source);
  std::jthread metrics_thread;
  if (metrics_srv) {
    spdlog::info("metrics, health and readiness on http://{} (/metrics, /healthz, /readyz)",
                 metrics_srv->bound_address());
    metrics_thread = std::jthread([&metrics_srv] { metrics_srv->run(); });
  }
  srv.run();
  if (metrics_srv) metrics_srv->stop();
  metrics_thread = {};
  importer.request_stop();
  for (auto& r : replicators) r.request_stop();
  for (auto& e : event_posters) e.request_stop();
  importer.join();
  replicators.clear();
  event_posters.clear();
  reg.flush_pulls();
  duties.release_all();
  return 0;
}

}  // namespace berth::cli
