// The pull-through cache's upstreams over HTTP: the V2 API of any registry (Berth, the reference
// registry, Docker Hub, a site's mirror), with Basic credentials or the distribution token flow
// (401 + WWW-Authenticate: Bearer realm,service,scope → a token from the realm, cached until it
// expires), following blob redirects to another host (a CDN, an object store) without the
// credentials. HTTPS unless the upstream is listed as insecure.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "berth/http/http_client.hpp"
#include "berth/registry/upstream_registry.hpp"

namespace berth::upstream {

struct upstream_settings {
  std::vector<std::string> insecure_upstreams;  // host[:port] reached over plain HTTP
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{60000};
};

// A WWW-Authenticate challenge: its scheme (lower case) and parameters.
struct challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
challenge parse_challenge(std::string_view header);

struct url_parts {
  std::string origin;  // scheme://host[:port]
  std::string target;  // path and query ("/" when none)
};
// Absolute http(s) URLs only; nullopt otherwise.
std::optional<url_parts> split_url(std::string_view url);

class http_upstream_connector final : public upstream_connector {
 public:
  explicit http_upstream_connector(upstream_settings settings) : settings_(std::move(settings)) {}

  std::shared_ptr<upstream_registry> connect(const pull_through_rule& rule,
                                             const std::optional<upstream_credentials>& creds) override;
  std::string check(const pull_through_rule& rule, const std::optional<upstream_credentials>& creds) override;

  // Shared by every upstream object: connections per origin, tokens per (origin, user, scope).
  result<std::shared_ptr<http::http_client>> client_for(const std::string& origin);
  std::string cached_token(const std::string& key);
  void keep_token(const std::string& key, std::string token, std::chrono::seconds lifetime);
  std::string base_url(const std::string& upstream_url) const;

 private:
  upstream_settings settings_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<http::http_client>> clients_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> tokens_;
};

}  // namespace berth::upstream
