#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../common/registry_fixture.hpp"
#include "berth/observability/exposition.hpp"
#include "berth/observability/ops_endpoints.hpp"
#include "berth/observability/request_metrics.hpp"
#include "berth/registry/registry_status.hpp"

using namespace berth;
using namespace berth::observability;

TEST(exposition, escapes_labels_and_help_and_formats_numbers) {
  exposition out;
  out.family("x_total", "counter", "Help with a \\ and a\nline.");
  out.sample("x_total", {{"path", "a\"b\\c\nd"}}, std::uint64_t{3});
  out.sample("y", {}, 0.25);
  out.bucket("h_bucket", {{"api", "v2"}}, "+Inf", 7);
  EXPECT_EQ(out.text(),
            "# HELP x_total Help with a \\\\ and a\\nline.\n# TYPE x_total counter\n"
            "x_total{path=\"a\\\"b\\\\c\\nd\"} 3\ny 0.25\nh_bucket{api=\"v2\",le=\"+Inf\"} 7\n");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_bound(0.0005), "0.0005");
  EXPECT_EQ(format_bound(60), "60");
}

namespace {

http::request request_for(std::string_view api, std::string_view op, http::verb method) {
  http::request r;
  r.method = method;
  r.notes.api = api;
  r.notes.operation = op;
  return r;
}

std::string written(const request_metrics& m) {
  exposition out;
  m.write(out, 2);
  return out.text();
}

}  // namespace

TEST(request_metrics, counts_histograms_bytes_failures_and_refusals) {
  request_metrics m;
  auto put = request_for("v2", "manifest.put", http::verb::put);
  m.on_request(put, http::request_outcome{201, 100, 0, std::chrono::microseconds(700), true});
  m.on_request(put, http::request_outcome{201, 50, 0, std::chrono::microseconds(30000), true});
  auto bad = request_for("ecr", "ListImages", http::verb::post);
  bad.notes.unauthenticated = true;
  m.on_request(bad, http::request_outcome{400, 2, 80, std::chrono::microseconds(100), true});
  auto denied = request_for("ecr", "ListImages", http::verb::post);
  denied.notes.denied = true;
  m.on_request(denied, http::request_outcome{400, 2, 80, std::chrono::microseconds(100), true});
  m.on_request(http::request{}, http::request_outcome{0, 0, 0, std::chrono::microseconds(5), false});
  m.on_refusal(http::refusal::header_too_large, "1.2.3.4:5");
  const auto text = written(m);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("berth_http_requests_total{api=\"v2\",route=\"manifest.put\",method=\"PUT\",status=\"201\"} 2"));
  EXPECT_TRUE(has("berth_http_requests_total{api=\"ecr\",route=\"ListImages\",method=\"POST\",status=\"400\"} 2"));
  EXPECT_TRUE(has("berth_http_requests_total{api=\"none\",route=\"none\",method=\"GET\",status=\"0\"} 1"));
  // Cumulative buckets: 0.7 ms is in le=0.001 and above, 30 ms in le=0.05 and above.
  EXPECT_TRUE(has("berth_http_request_duration_seconds_bucket{api=\"v2\",route=\"manifest.put\",le=\"0.0005\"} 0"));
  EXPECT_TRUE(has("berth_http_request_duration_seconds_bucket{api=\"v2\",route=\"manifest.put\",le=\"0.001\"} 1"));
  EXPECT_TRUE(has("berth_http_request_duration_seconds_bucket{api=\"v2\",route=\"manifest.put\",le=\"0.025\"} 1"));
  EXPECT_TRUE(has("berth_http_request_duration_seconds_bucket{api=\"v2\",route=\"manifest.put\",le=\"0.05\"} 2"));
  EXPECT_TRUE(has("berth_http_request_duration_seconds_bucket{api=\"v2\",route=\"manifest.put\",le=\"+Inf\"} 2"));
  const std::string sum_line = "berth_http_request_duration_seconds_sum{api=\"v2\",route=\"manifest.put\"} ";
  const auto at = text.find(sum_line);
  ASSERT_NE(at, std::string::npos);
  EXPECT_NEAR(std::stod(text.substr(at + sum_line.size())), 0.0307, 1e-9);
  EXPECT_TRUE(has("berth_http_request_duration_seconds_count{api=\"v2\",route=\"manifest.put\"} 2"));
  EXPECT_TRUE(has("berth_http_request_bytes_total{api=\"v2\"} 150"));
  EXPECT_TRUE(has("berth_http_response_bytes_total{api=\"ecr\"} 160"));
  EXPECT_TRUE(has("berth_authentication_failures_total{api=\"ecr\"} 1"));
  EXPECT_TRUE(has("berth_authorization_denials_total{api=\"ecr\"} 1"));
  EXPECT_TRUE(has("berth_authentication_failures_total{api=\"v2\"} 0"));
  EXPECT_TRUE(has("berth_http_refusals_total{reason=\"header_too_large\"} 1"));
  EXPECT_TRUE(has("berth_http_refusals_total{reason=\"too_many_connections\"} 0"));
  EXPECT_TRUE(has("berth_http_requests_in_progress 2"));
}

namespace {

class ops_test : public testing_support::registry_fixture {};

class refuse_all final : public scrape_gate {
 public:
  std::optional<http::response> refuse(const http::request&) const override {
    http::response r;
    r.status = 401;
    return r;
  }
};

http::response answer(const ops_endpoints& ops, const std::string& path, http::verb method = http::verb::get) {
  http::request req;
  req.method = method;
  req.path = path;
  auto ex = ops.route(req);
  return ex->finish(req);
}

}  // namespace

TEST_F(ops_test, health_readiness_and_metrics_without_sockets) {
  request_metrics requests;
  maintenance_metrics maintenance;
  registry_status status(backends(), clk, std::chrono::seconds(0));
  ops_endpoints ops({requests, maintenance, status, [] { return std::size_t{1}; }, "9.9.9"}, nullptr);
  EXPECT_TRUE(ops_endpoints::is_ops_path("/metrics"));
  EXPECT_FALSE(ops_endpoints::is_ops_path("/metrics/"));
  EXPECT_EQ(answer(ops, "/healthz").status, 200u);
  EXPECT_EQ(answer(ops, "/readyz").body, "ready\n");
  auto wrong = answer(ops, "/readyz", http::verb::delete_);
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.headers.find("Allow").value(), "GET, HEAD");

  push_blob("r", "layer bytes");
  maintenance.record("gc", std::chrono::milliseconds(1500), 3, 4096, 1700000000);
  auto m = answer(ops, "/metrics");
  EXPECT_EQ(m.status, 200u);
  auto has = [&](const std::string& line) { return m.body.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("berth_build_info{version=\"9.9.9\"} 1"));
  EXPECT_TRUE(has("berth_ready 1"));
  EXPECT_TRUE(has("berth_repositories 1"));
  EXPECT_TRUE(has("berth_blobs 1"));
  EXPECT_TRUE(has("berth_blob_bytes 11"));
  EXPECT_TRUE(has("berth_queue_depth{queue=\"replication\"} 0"));
  EXPECT_TRUE(has("berth_maintenance_runs_total{job=\"gc\"} 1"));
  EXPECT_TRUE(has("berth_maintenance_run_seconds_total{job=\"gc\"} 1.5"));
  EXPECT_TRUE(has("berth_maintenance_bytes_freed_total{job=\"gc\"} 4096"));
  EXPECT_TRUE(has("berth_maintenance_runs_total{job=\"lifecycle\"} 0"));
  EXPECT_TRUE(has("berth_http_requests_in_progress 1"));
  EXPECT_NE(m.body.find("\nprocess_resident_memory_bytes "), std::string::npos);

  // A gate guards /metrics only.
  refuse_all gate;
  ops_endpoints guarded({requests, maintenance, status, nullptr, "9.9.9"}, &gate);
  EXPECT_EQ(answer(guarded, "/metrics").status, 401u);
  EXPECT_EQ(answer(guarded, "/healthz").status, 200u);
  EXPECT_EQ(answer(guarded, "/readyz").status, 200u);

  // The blob store stops answering: not ready, naming it.
  const auto root = dir.path();
  const auto blobs_dir = root / "blobs";
  std::filesystem::rename(blobs_dir, root / "blobs.away");
  { std::ofstream(blobs_dir) << "not a directory"; }
  auto down = answer(ops, "/readyz");
  EXPECT_EQ(down.status, 503u);
  EXPECT_EQ(down.body.rfind("not ready: blob store: ", 0), 0u) << down.body;
  std::filesystem::remove(blobs_dir);
  std::filesystem::rename(root / "blobs.away", blobs_dir);
  EXPECT_EQ(answer(ops, "/readyz").status, 200u);
}
