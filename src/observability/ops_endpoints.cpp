#include "berth/observability/ops_endpoints.hpp"

#include "berth/http/simple_exchange.hpp"
#include "berth/observability/process_metrics.hpp"

namespace berth::observability {
namespace {

http::response text(unsigned status, std::string body) {
  http::response r;
  r.status = status;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.headers.add("Cache-Control", "no-store");
  r.body = std::move(body);
  return r;
}

}  // namespace

ops_endpoints::ops_endpoints(ops_sources sources, const scrape_gate* gate)
    : sources_(std::move(sources)), gate_(gate) {}

bool ops_endpoints::is_ops_path(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

std::unique_ptr<http::exchange> ops_endpoints::route(const http::request& head) const {
  head.notes.api = "ops";
  head.notes.operation = head.path == "/healthz" ? "healthz" : head.path == "/readyz" ? "readyz" : "metrics";
  if (head.method != http::verb::get && head.method != http::verb::head) {
    auto r = text(405, "405 method not allowed\n");
    r.headers.add("Allow", "GET, HEAD");
    return http::respond_with(std::move(r));
  }
  if (head.path == "/healthz") return http::respond_with(health());
  if (head.path == "/readyz") {
    return std::make_unique<http::function_exchange>([this](http::request&) { return ready(); }, true);
  }
  // Off the I/O threads: deciding may read policies.
  return std::make_unique<http::function_exchange>(
      [this](http::request& req) {
        if (gate_) {
          if (auto refused = gate_->refuse(req)) return std::move(*refused);
        }
        return metrics();
      },
      true);
}

http::response ops_endpoints::health() const { return text(200, "ok\n"); }

http::response ops_endpoints::ready() const {
  auto r = sources_.status.check();
  if (!r.ready) return text(503, "not ready: " + r.failing + "\n");
  return text(200, "ready\n");
}

http::response ops_endpoints::metrics() const {
  exposition out;
  out.family("berth_build_info", "gauge", "The running build: always 1, labelled with its version.");
  out.sample("berth_build_info", {{"version", sources_.version}}, std::uint64_t{1});
  const auto ready = sources_.status.check();
  out.family("berth_ready", "gauge", "1 when the metadata store and blob store answer and the schema is current.");
  out.sample("berth_ready", {}, std::uint64_t{ready.ready ? 1u : 0u});
  sources_.requests.write(out, sources_.requests_in_progress ? sources_.requests_in_progress() : 0);
  sources_.maintenance.write(out);
  if (auto inv = sources_.status.inventory()) {
    out.family("berth_repositories", "gauge", "Repositories.");
    out.sample("berth_repositories", {}, inv->repositories);
    out.family("berth_images", "gauge", "Images (manifests and indexes) in all repositories.");
    out.sample("berth_images", {}, inv->images);
    out.family("berth_tags", "gauge", "Tags in all repositories.");
    out.sample("berth_tags", {}, inv->tags);
    out.family("berth_blobs", "gauge", "Blobs stored (each once, however many repositories link it).");
    out.sample("berth_blobs", {}, inv->blobs);
    out.family("berth_blob_bytes", "gauge", "Bytes of the blobs stored.");
    out.sample("berth_blob_bytes", {}, inv->blob_bytes);
    out.family("berth_uploads_in_progress", "gauge", "Blob upload sessions started and not yet finished or expired.");
    out.sample("berth_uploads_in_progress", {}, inv->uploads);
    out.family("berth_queue_depth", "gauge", "Items waiting in each durable background queue.");
    for (const auto& q : inv->queues) out.sample("berth_queue_depth", {{"queue", q.queue}}, q.depth);
    out.family("berth_queue_overdue_seconds", "gauge",
               "How long past its due time the longest-waiting item of each queue is (0: none is late).");
    for (const auto& q : inv->queues)
      out.sample("berth_queue_overdue_seconds", {{"queue", q.queue}}, q.overdue_seconds);
  }
  if (sources_.events) {
    const auto e = sources_.events();
    out.family("berth_events_delivered_total", "counter", "Events a webhook accepted (2xx), by this server.");
    out.sample("berth_events_delivered_total", {}, e.delivered);
    out.family("berth_event_attempts_failed_total", "counter",
               "Event posts a webhook refused or did not answer in time (each is tried again).");
    out.sample("berth_event_attempts_failed_total", {}, e.failed_attempts);
    out.family("berth_events_dropped_total", "counter",
               "Events given up after events.max_attempts, or whose webhook is no longer configured.");
    out.sample("berth_events_dropped_total", {}, e.dropped);
  }
  write_process_metrics(out);
  auto r = text(200, out.text());
  r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return r;
}

}  // namespace berth::observability
