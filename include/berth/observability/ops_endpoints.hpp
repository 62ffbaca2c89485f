// The operator's endpoints: GET /healthz (the process serves), GET /readyz (the metadata store and
// blob store answer and the schema is current; 503 naming the failing part otherwise) and
// GET /metrics (the Prometheus text format). Served on the main listener and, when configured, on
// a separate metrics listener where /metrics needs no credentials.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "berth/http/message.hpp"
#include "berth/observability/maintenance_metrics.hpp"
#include "berth/observability/request_metrics.hpp"
#include "berth/registry/event_announcer.hpp"
#include "berth/registry/registry_status.hpp"

namespace berth::observability {

// Decides whether a request may read /metrics; a response refuses it.
class scrape_gate {
 public:
  virtual ~scrape_gate() = default;
  virtual std::optional<http::response> refuse(const http::request& req) const = 0;
};

struct ops_sources {
  const request_metrics& requests;
  const maintenance_metrics& maintenance;
  registry_status& status;
  std::function<std::size_t()> requests_in_progress;
  std::string version;
  std::function<event_counts()> events = {};  // none: no webhooks configured
};

class ops_endpoints {
 public:
  // `gate` null: /metrics is open (the separate listener, `metrics.public`, or auth: none).
  ops_endpoints(ops_sources sources, const scrape_gate* gate);

  static bool is_ops_path(std::string_view path);
  std::unique_ptr<http::exchange> route(const http::request& head) const;

  http::response health() const;
  http::response ready() const;
  http::response metrics() const;

 private:
  ops_sources sources_;
  const scrape_gate* gate_;
};

}  // namespace berth::observability
