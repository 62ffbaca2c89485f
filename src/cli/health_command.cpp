// berth health: asks a running server whether it is serving (/healthz) or ready (/readyz), for a
// container's HEALTHCHECK or a script; the slim image has no curl. The address comes from the same
// configuration `berth serve` reads (flags, BERTH_* variables, the config file), so it follows
// BERTH_LISTEN without being told.
#include <cstdio>
#include <iostream>

#include "berth/cli/commands.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/http/http_client.hpp"

namespace berth::cli {
namespace {

// The URL of a listen address as seen from this machine: a wildcard host is the loopback.
std::string local_url(const std::string& listen, bool tls) {
  auto address = config::parse_listen(listen);
  if (!address) return {};
  std::string host = address->host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(address->port);
}

}  // namespace

int health_command(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {"url", "config", "listen", "timeout"}, {"ready"}, "health");
  if (!flags) return fail(flags.error_value().message);
  if (flags->help) {
    std::cout << "Usage: berth health [--ready] [--url http://HOST:PORT] [--config FILE] [--timeout SECONDS]\n\n"
                 "Exits 0 when the server answers GET /healthz (with --ready: GET /readyz) with 200, 1\n"
                 "otherwise, with the reason on stderr. Without --url it asks the server this configuration\n"
                 "describes: metrics.listen when set (plain HTTP), else listen (HTTPS when tls is configured,\n"
                 "verified against the system's CAs); a wildcard address is asked on the loopback.\n";
    return 0;
  }
  std::string url;
  if (auto it = flags->values.find("url"); it != flags->values.end()) {
    url = it->second;
    while (!url.empty() && url.back() == '/') url.pop_back();
  } else {
    config::flag_map base;
    for (const char* k : {"config", "listen"})
      if (auto f = flags->values.find(k); f != flags->values.end()) base[k] = f->second;
    auto cfg = config::load(base);
    if (!cfg) return fail(cfg.error_value().message);
    url = cfg->metrics_listen.empty() ? local_url(cfg->listen, !cfg->tls_cert.empty())
                                      : local_url(cfg->metrics_listen, false);
  }
  long timeout = 5;
  if (auto it = flags->values.find("timeout"); it != flags->values.end()) {
    try {
      timeout = std::stol(it->second);
    } catch (...) {
      timeout = 0;
    }
    if (timeout < 1 || timeout > 300) return fail("--timeout must be 1 to 300 seconds");
  }
  http::client_options options;
  options.connect_timeout = std::chrono::seconds(timeout);
  options.io_timeout = std::chrono::seconds(timeout);
  options.max_idle_connections = 0;
  auto client = http::make_http_client(url, options);
  if (!client) return fail(url + ": " + client.error_value().message);
  const std::string path = flags->values.count("ready") ? "/readyz" : "/healthz";
  auto response = (*client)->send({"GET", path, {}, {}}, 64 * 1024);
  if (!response) return fail(url + path + ": " + response.error_value().message);
  if (response->status != 200) {
    std::string body = response->body.substr(0, 500);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    return fail(url + path + ": HTTP " + std::to_string(response->status) + (body.empty() ? "" : ": " + body));
  }
  std::printf("%s%s: ok\n", url.c_str(), path.c_str());
  return 0;
}

}  // namespace berth::cli
