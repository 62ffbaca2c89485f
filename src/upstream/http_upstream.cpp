#include "berth/upstream/http_upstream.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "berth/auth/login_token.hpp"
#include "berth/auth/sigv4.hpp"
#include "berth/registry/manifest.hpp"

namespace berth::upstream {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_manifest_bytes = 4 * 1024 * 1024;
constexpr std::size_t max_token_bytes = 1024 * 1024;
constexpr int max_redirects = 5;

const std::vector<std::string> default_accept{"application/vnd.oci.image.manifest.v1+json",
                                              "application/vnd.oci.image.index.v1+json",
                                              "application/vnd.docker.distribution.manifest.v2+json",
                                              "application/vnd.docker.distribution.manifest.list.v2+json"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string header(const http::header_list& h, std::string_view name) {
  auto v = h.find(name);
  return v ? std::string(*v) : std::string();
}

error auth_failed() {
  return make_error(errc::denied,
                    "The authentication to the upstream registry failed. Verify that the credentials provided in the "
                    "pull through cache rule are correct, and try again.");
}

error unavailable(const std::string& what) { return make_error(errc::upstream_unavailable, what); }

result<std::string> read_all(http::client_body_reader& r, std::size_t limit) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto n = r.read(buf, sizeof buf);
    if (!n) return unavailable("reading from the upstream failed: " + n.error_value().message);
    if (*n == 0) return out;
    if (out.size() + *n > limit) return unavailable("the upstream's answer is larger than " + std::to_string(limit));
    out.append(buf, *n);
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The body of an upstream blob response.
class blob_body final : public byte_reader {
 public:
  explicit blob_body(std::unique_ptr<http::client_body_reader> r) : r_(std::move(r)) {}
  result<std::size_t> read(char* out, std::size_t size) override { return r_->read(out, size); }

 private:
  std::unique_ptr<http::client_body_reader> r_;
};

class http_upstream final : public upstream_registry {
 public:
  http_upstream(http_upstream_connector& connector, std::string origin, std::optional<upstream_credentials> creds)
      : connector_(connector), origin_(std::move(origin)), creds_(std::move(creds)) {}

  // One request to the upstream, authenticated as it asks: Basic, or a Bearer token for `scope`.
  result<std::unique_ptr<http::client_body_reader>> send(const std::string& method, const std::string& target,
                                                         std::vector<std::pair<std::string, std::string>> headers,
                                                         const std::string& scope) {
    auto client = connector_.client_for(origin_);
    if (!client) return client.take_error();
    // Keyed by the credentials themselves: a changed secret does not reuse the old one's tokens.
    const auto token_key =
        origin_ + "\n" + (creds_ ? digest_of(creds_->username + "\n" + creds_->access_token).str() : "") + "\n" + scope;
    std::string authorization;
    if (auto t = connector_.cached_token(token_key); !t.empty()) authorization = "Bearer " + t;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto h = headers;
      if (!authorization.empty()) h.emplace_back("Authorization", authorization);
      auto r = (*client)->open(http::client_request{method, target, std::move(h), {}});
      if (!r) return unavailable("the upstream " + origin_ + " cannot be reached: " + r.error_value().message);
      if ((*r)->status() != 401 || attempt == 1) return r;
      auto c = parse_challenge(header((*r)->headers(), "WWW-Authenticate"));
      if (c.scheme == "basic") {
        if (!creds_) return auth_failed();
        authorization = "Basic " + auth::base64_encode(creds_->username + ":" + creds_->access_token);
      } else if (c.scheme == "bearer") {
        auto token = fetch_token(c, scope);
        if (!token) return token.take_error();
        authorization = "Bearer " + token->first;
        connector_.keep_token(token_key, token->first, token->second);
      } else {
        return auth_failed();
      }
    }
    return auth_failed();
  }

  result<upstream_manifest> manifest(const std::string& repository, const std::string& reference,
                                     const std::vector<std::string>& accept) override {
    auto r = send("GET", "/v2/" + repository + "/manifests/" + reference,
                  {{"Accept", join(accept.empty() ? default_accept : with_defaults(accept))}}, scope_of(repository));
    if (!r) return r.take_error();
    if (auto e = status_error(**r, errc::manifest_unknown)) return *e;
    auto body = read_all(**r, max_manifest_bytes);
    if (!body) return body.take_error();
    return upstream_manifest{header((*r)->headers(), "Docker-Content-Digest"), header((*r)->headers(), "Content-Type"),
                             std::move(*body)};
  }

  result<std::string> manifest_digest(const std::string& repository, const std::string& reference,
                                      const std::vector<std::string>& accept) override {
    auto r = send("HEAD", "/v2/" + repository + "/manifests/" + reference,
                  {{"Accept", join(accept.empty() ? default_accept : with_defaults(accept))}}, scope_of(repository));
    if (!r) return r.take_error();
    if (auto e = status_error(**r, errc::manifest_unknown)) return *e;
    auto d = header((*r)->headers(), "Docker-Content-Digest");
    if (!d.empty()) return d;
    auto m = manifest(repository, reference, accept);  // an upstream that does not say: the bytes tell
    if (!m) return m.take_error();
    return digest_of(m->content).str();
  }

  result<std::string> referrers(const std::string& repository, const digest& subject) override {
    const std::string index(media_type::oci_index);
    auto r =
        send("GET", "/v2/" + repository + "/referrers/" + subject.str(), {{"Accept", index}}, scope_of(repository));
    if (!r) return r.take_error();
    if ((*r)->status() == 200) return read_all(**r, max_manifest_bytes);
    if ((*r)->status() != 404) {
      if (auto e = status_error(**r, errc::manifest_unknown)) return *e;
    }
    // No referrers API there (distribution 2.8 answers 404): the tag clients push instead.
    auto tagged = manifest(repository, std::string(subject.algorithm_name()) + "-" + subject.hex(), {index});
    if (!tagged && tagged.error_value().code == errc::manifest_unknown) return std::string();
    if (!tagged) return tagged.take_error();
    return std::move(tagged->content);
  }

  result<upstream_blob> blob(const std::string& repository, const digest& d) override {
    auto r = send("GET", "/v2/" + repository + "/blobs/" + d.str(), {}, scope_of(repository));
    if (!r) return r.take_error();
    // Redirected (a CDN, an object store's presigned URL): followed without our credentials.
    for (int hop = 0; hop < max_redirects && is_redirect((*r)->status()); ++hop) {
      auto where = split_url(header((*r)->headers(), "Location"));
      if (!where) return unavailable("the upstream redirected " + d.str() + " to a location Berth cannot follow");
      auto client = connector_.client_for(where->origin);
      if (!client) return client.take_error();
      auto next = (*client)->open(http::client_request{"GET", where->target, {}, {}});
      if (!next)
        return unavailable("the upstream's redirect for " + d.str() + " failed: " + next.error_value().message);
      r = std::move(next);
    }
    if (auto e = status_error(**r, errc::blob_unknown)) return *e;
    auto length = header((*r)->headers(), "Content-Length");
    if (length.empty() || !std::all_of(length.begin(), length.end(), ::isdigit) || length.size() > 19) {
      return unavailable("the upstream sent " + d.str() + " without a Content-Length");
    }
    return upstream_blob{std::stoull(length), std::make_unique<blob_body>(std::move(*r))};
  }

  result<std::uint64_t> blob_size(const std::string& repository, const digest& d) override {
    auto r = send("HEAD", "/v2/" + repository + "/blobs/" + d.str(), {}, scope_of(repository));
    if (!r) return r.take_error();
    if (is_redirect((*r)->status())) {
      // The size is behind the redirect; the GET that follows fetches the blob anyway.
      auto b = blob(repository, d);
      if (!b) return b.take_error();
      return b->size;
    }
    if (auto e = status_error(**r, errc::blob_unknown)) return *e;
    auto length = header((*r)->headers(), "Content-Length");
    if (length.empty() || !std::all_of(length.begin(), length.end(), ::isdigit) || length.size() > 19) {
      return unavailable("the upstream answered HEAD " + d.str() + " without a Content-Length");
    }
    return static_cast<std::uint64_t>(std::stoull(length));
  }

  // GET /v2/: "" when the upstream answers with these credentials.
  std::string ping() {
    auto r = send("GET", "/v2/", {}, "");
    if (!r) return r.error_value().message;
    if ((*r)->status() == 200) return "";
    if ((*r)->status() == 401 || (*r)->status() == 403) return auth_failed().message;
    return "The upstream registry answered GET /v2/ with HTTP " + std::to_string((*r)->status());
  }

 private:
  static bool is_redirect(unsigned s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

  static std::string scope_of(const std::string& repository) { return "repository:" + repository + ":pull"; }

  static std::vector<std::string> with_defaults(std::vector<std::string> accept) {
    for (const auto& d : default_accept)
      if (std::find(accept.begin(), accept.end(), d) == accept.end()) accept.push_back(d);
    return accept;
  }

  std::optional<error> status_error(http::client_body_reader& r, errc missing) {
    const auto s = r.status();
    if (s == 200) return std::nullopt;
    if (s == 404) {
      return make_error(missing,
                        missing == errc::blob_unknown ? "blob unknown to registry" : "Requested image not found");
    }
    if (s == 401 || s == 403) return auth_failed();
    if (s == 429) return unavailable("the upstream registry " + origin_ + " is rate-limiting (HTTP 429)");
    return unavailable("the upstream registry " + origin_ + " answered HTTP " + std::to_string(s));
  }

  // The distribution token flow: GET realm?service=…&scope=…, with Basic credentials if any.
  result<std::pair<std::string, std::chrono::seconds>> fetch_token(const challenge& c, const std::string& scope) {
    auto realm = c.params.find("realm");
    if (realm == c.params.end()) return auth_failed();
    auto where = split_url(realm->second);
    if (!where) return unavailable("the upstream's token realm " + realm->second + " is not an http(s) URL");
    std::string target = where->target;
    char sep = target.find('?') == std::string::npos ? '?' : '&';
    if (auto s = c.params.find("service"); s != c.params.end()) {
      target += sep + std::string("service=") + auth::uri_encode(s->second, false);
      sep = '&';
    }
    if (!scope.empty()) target += sep + std::string("scope=") + auth::uri_encode(scope, false);
    auto client = connector_.client_for(where->origin);
    if (!client) return client.take_error();
    std::vector<std::pair<std::string, std::string>> h;
    if (creds_) {
      h.emplace_back("Authorization", "Basic " + auth::base64_encode(creds_->username + ":" + creds_->access_token));
    }
    auto r = (*client)->send(http::client_request{"GET", target, std::move(h), {}}, max_token_bytes);
    if (!r) return unavailable("the upstream's token service cannot be reached: " + r.error_value().message);
    if (r->status == 401 || r->status == 403) return auth_failed();
    if (r->status != 200) return unavailable("the upstream's token service answered HTTP " + std::to_string(r->status));
    auto doc = json::parse(r->body, nullptr, false);
    std::string token;
    if (doc.is_object() && doc.contains("token") && doc["token"].is_string()) token = doc["token"];
    if (token.empty() && doc.is_object() && doc.contains("access_token") && doc["access_token"].is_string()) {
      token = doc["access_token"];
    }
    if (token.empty()) return unavailable("the upstream's token service answered without a token");
    std::int64_t lifetime = 60;  // the specification's default, and its minimum
    if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
      lifetime = std::max<std::int64_t>(60, doc["expires_in"].get<std::int64_t>());
    }
    // Renewed a little early: a token that expires in flight fails the request it was for.
    return std::make_pair(token, std::chrono::seconds(lifetime - 10));
  }

  http_upstream_connector& connector_;
  std::string origin_;
  std::optional<upstream_credentials> creds_;
};

}  // namespace

challenge parse_challenge(std::string_view h) {
  challenge c;
  std::size_t i = 0;
  while (i < h.size() && h[i] == ' ') ++i;
  const auto space = h.find(' ', i);
  c.scheme = lower(std::string(h.substr(i, space == std::string_view::npos ? h.size() - i : space - i)));
  if (space == std::string_view::npos) return c;
  i = space + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    const auto eq = h.find('=', i);
    if (eq == std::string_view::npos) break;
    auto key = lower(std::string(h.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value.push_back(h[i++]);
      }
      ++i;
    } else {
      while (i < h.size() && h[i] != ',') value.push_back(h[i++]);
    }
    c.params[key] = value;
  }
  return c;
}

std::optional<url_parts> split_url(std::string_view url) {
  std::string_view rest;
  std::string scheme;
  if (url.starts_with("https://")) {
    scheme = "https://";
  } else if (url.starts_with("http://")) {
    scheme = "http://";
  } else {
    return std::nullopt;
  }
  rest = url.substr(scheme.size());
  const auto slash = rest.find_first_of("/?");
  auto host = rest.substr(0, slash);
  if (host.empty() || host.find_first_of(" @") != std::string_view::npos) return std::nullopt;
  std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (target.front() == '?') target.insert(0, "/");
  return url_parts{scheme + std::string(host), std::move(target)};
}

std::string http_upstream_connector::base_url(const std::string& upstream_url) const {
  const bool insecure = std::find(settings_.insecure_upstreams.begin(), settings_.insecure_upstreams.end(),
                                  upstream_url) != settings_.insecure_upstreams.end();
  return (insecure ? "http://" : "https://") + upstream_url;
}

result<std::shared_ptr<http::http_client>> http_upstream_connector::client_for(const std::string& origin) {
  std::lock_guard lock(mutex_);
  auto& slot = clients_[origin];
  if (!slot) {
    http::client_options o;
    o.connect_timeout = settings_.connect_timeout;
    o.io_timeout = settings_.io_timeout;
    auto made = http::make_http_client(origin, o);
    if (!made) {
      clients_.erase(origin);
      return unavailable("cannot reach " + origin + ": " + made.error_value().message);
    }
    slot = *made;
  }
  return slot;
}

std::string http_upstream_connector::cached_token(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(key);
  if (it == tokens_.end()) return "";
  if (it->second.second <= std::chrono::steady_clock::now()) {
    tokens_.erase(it);
    return "";
  }
  return it->second.first;
}

void http_upstream_connector::keep_token(const std::string& key, std::string token, std::chrono::seconds lifetime) {
  std::lock_guard lock(mutex_);
  if (tokens_.size() > 10000) tokens_.clear();  // bounded: one per (upstream, user, repository)
  tokens_[key] = {std::move(token), std::chrono::steady_clock::now() + lifetime};
}

std::shared_ptr<upstream_registry> http_upstream_connector::connect(const pull_through_rule& rule,
                                                                    const std::optional<upstream_credentials>& creds) {
  return std::make_shared<http_upstream>(*this, base_url(rule.upstream_url), creds);
}

std::string http_upstream_connector::check(const pull_through_rule& rule,
                                           const std::optional<upstream_credentials>& creds) {
  http_upstream up(*this, base_url(rule.upstream_url), creds);
  return up.ping();
}

}  // namespace berth::upstream
