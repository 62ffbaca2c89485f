#include "berth/cli/data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "berth/cli/commands.hpp"
#include "berth/cli/key_files.hpp"
#include "berth/meta/postgres_metadata.hpp"
#include "berth/meta/sqlite_metadata.hpp"
#include "berth/storage/filesystem_storage.hpp"
#include "berth/storage/s3_storage.hpp"
#include "berth/upstream/http_event_sink.hpp"

namespace berth::cli {

data_dir::~data_dir() {
  if (lock_fd >= 0) ::close(lock_fd);
}

result<std::unique_ptr<data_dir>> open_data_dir(const config::settings& cfg, bool exclusive) {
  std::filesystem::path path = cfg.data_dir;  // as given: the duty holder's name is made of it
  std::error_code ec;
  if (!exclusive) {
    // Only `serve` makes a data directory: a maintenance command pointed at a mistyped path must not
    // report on an empty registry it just made there.
    const bool local_metadata = cfg.metadata_driver != "postgres";
    if (local_metadata && !std::filesystem::exists(path / "berth.db", ec)) {
      return make_error(errc::internal, "'" + path.lexically_normal().string() +
                                            "' is not a Berth data directory (no berth.db): give --data-dir, or "
                                            "start `berth serve` there first");
    }
    if (!local_metadata && cfg.storage_driver == "filesystem" && !std::filesystem::is_directory(path, ec)) {
      return make_error(errc::internal, "data directory '" + path.lexically_normal().string() + "' does not exist");
    }
  }
  std::filesystem::create_directories(path, ec);
  if (ec) return make_error(errc::internal, "cannot create data directory '" + path.string() + "': " + ec.message());
  auto d = std::make_unique<data_dir>();
  if (exclusive) {
    // One server per data directory: SQLite's writer and the upload claims live in its process.
    d->lock_fd = ::open((path / "berth.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0) return make_error(errc::internal, "data directory '" + path.string() + "' is not writable");
    if (::flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return make_error(errc::internal, "data directory '" + path.string() + "' is in use by another berth process");
    }
    // Servers that share a database may have the same data directory path on different machines.
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    d->duty_holder = "server of " + std::string(host) + ":" + std::filesystem::absolute(path).string();
  } else {
    d->duty_holder = "berth-" + new_upload_id();
  }
  if (cfg.storage_driver == "s3") {
    storage::s3_options o;
    o.endpoint = cfg.s3_endpoint;
    o.region = cfg.s3_region;
    o.bucket = cfg.s3_bucket;
    o.access_key_id = cfg.s3_access_key_id;
    o.secret_access_key = cfg.s3_secret_access_key;
    o.path_style = cfg.s3_path_style;
    o.redirect = cfg.s3_redirect;
    o.part_size = static_cast<std::uint64_t>(cfg.s3_part_size);
    auto s3 = storage::open_s3_storage(o);
    if (!s3) return make_error(errc::internal, "storage: " + s3.error_value().message);
    d->blobs = std::move(s3->blobs);
    d->uploads = std::move(s3->uploads);
  } else {
    auto fs = storage::open_filesystem_storage(path);
    if (!fs) return fs.take_error();
    d->blobs = std::move(fs->blobs);
    d->uploads = std::move(fs->uploads);
  }
  auto meta = cfg.metadata_driver == "postgres"
                  ? meta::open_postgres_metadata(meta::postgres_options{
                        cfg.metadata_dsn, static_cast<std::size_t>(cfg.metadata_max_connections)})
                  : meta::open_sqlite_metadata(path / "berth.db");
  if (!meta) return make_error(errc::internal, "metadata: " + meta.error_value().message);
  d->meta = std::move(meta).value();
  d->repositories = std::make_unique<repository_catalog>(*d->meta, d->clk, cfg.account_id);
  registry_options options{cfg.upload_expiry_seconds, cfg.max_upload_sessions_per_repository};
  if (exclusive) options.server_identity = d->duty_holder;  // a name only this server has, restart after restart
  d->reg = std::make_unique<registry>(d->backends(), *d->repositories, d->clk, options);
  d->lifecycle = std::make_unique<lifecycle_service>(*d->reg, d->backends());
  if (!cfg.event_webhooks.empty()) {
    event_settings es;
    for (const auto& w : cfg.event_webhooks) es.webhooks.push_back(event_webhook{w.url, w.secret});
    es.retry_base_seconds = cfg.events_retry_base_seconds;
    es.retry_max_seconds = cfg.events_retry_max_seconds;
    es.max_attempts = static_cast<int>(cfg.events_max_attempts);
    es.hold_seconds = 2 * cfg.events_timeout_seconds + 30;
    d->event_posts = std::make_unique<upstream::http_event_sink>(std::chrono::seconds(cfg.events_timeout_seconds));
    d->events = std::make_unique<event_announcer>(d->meta->events(), *d->event_posts, d->clk, cfg.account_id,
                                                  cfg.region, std::move(es));
    d->reg->set_events(d->events.get());
  }
  // A server database holds what every server must share; local files serve one server.
  d->secrets = cfg.metadata_driver == "postgres" ? database_secrets(d->meta->secrets()) : data_dir_secrets(path);
  d->reg->recover();
  return d;
}

result<std::unique_ptr<data_dir>> open_for_command(const config::flag_map& flags) {
  config::flag_map base;
  for (auto key : {"data-dir", "config"}) {
    if (auto it = flags.find(key); it != flags.end()) base[key] = it->second;
  }
  auto cfg = config::load(base);
  if (!cfg) return cfg.take_error();
  configure_logging("text", "warn");
  return open_data_dir(*cfg);
}

}  // namespace berth::cli
