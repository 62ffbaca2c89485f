// The composition root: opens the backends the configuration names (SQLite or PostgreSQL metadata;
// the filesystem stores under the data directory or an S3 bucket) and builds the domain services on
// them. Shared by
// `serve` and the maintenance commands (gc, fsck, lifecycle, usage). The only code that names a
// backend.
#pragma once

#include <memory>

#include "berth/auth/secret_store.hpp"
#include "berth/config/config.hpp"
#include "berth/meta/metadata_store.hpp"
#include "berth/registry/event_announcer.hpp"
#include "berth/registry/lifecycle_service.hpp"
#include "berth/registry/registry.hpp"
#include "berth/storage/blob_store.hpp"
#include "berth/storage/upload_store.hpp"

namespace berth::cli {

struct data_dir {
  data_dir() = default;
  ~data_dir();
  data_dir(const data_dir&) = delete;
  data_dir& operator=(const data_dir&) = delete;

  system_clock clk;
  std::unique_ptr<meta::metadata_store> meta;
  std::unique_ptr<storage::blob_store> blobs;
  std::unique_ptr<storage::upload_store> uploads;
  std::unique_ptr<repository_catalog> repositories;
  std::unique_ptr<registry> reg;
  std::unique_ptr<lifecycle_service> lifecycle;
  // With events.webhooks: every push and deletion (also by gc and lifecycle commands) writes its
  // events; `serve` delivers them.
  std::unique_ptr<event_sink> event_posts;
  std::unique_ptr<event_announcer> events;
  std::unique_ptr<auth::secret_store> secrets;
  int lock_fd = -1;  // held by a server: one server per data directory (SQLite and local files)
  // Who holds the duties' leases. With the data directory locked there is one server, so a
  // restarted server takes its predecessor's leases at once; a fleet gives each process its own.
  std::string duty_holder;

  registry_backends backends() { return registry_backends{*blobs, *uploads, *meta}; }
};

// `exclusive`: for a server, which must be the only one on these backends (the local ones lock the
// data directory; errc::internal names it when another Berth holds it). Also runs start-up recovery
// (an interrupted garbage collection). Only a server creates the data directory: without
// `exclusive` one that holds no Berth metadata is refused, naming it.
result<std::unique_ptr<data_dir>> open_data_dir(const config::settings& cfg, bool exclusive = false);

// What maintenance and inventory commands open: the data directory (or fleet backends) of
// --data-dir and --config, logging warnings only (what a command did goes to stdout, once).
result<std::unique_ptr<data_dir>> open_for_command(const config::flag_map& flags);

}  // namespace berth::cli
