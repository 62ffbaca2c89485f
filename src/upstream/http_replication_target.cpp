#include "berth/upstream/http_replication_target.hpp"

#include <nlohmann/json.hpp>

#include "berth/auth/login_token.hpp"
#include "berth/auth/sigv4.hpp"
#include "berth/auth/sigv4_signer.hpp"

namespace berth::upstream {
namespace {

using json = nlohmann::json;

constexpr const char* ecr_target_prefix = "AmazonEC2ContainerRegistry_V20150921.";

// The first V2 error code of a response body ("" when there is none).
std::string v2_code(const http::client_response& r) {
  auto doc = json::parse(r.body, nullptr, false);
  if (!doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array() || doc["errors"].empty()) return "";
  const auto& first = doc["errors"][0];
  return first.is_object() ? first.value("code", "") : "";
}

class http_replication_target final : public replication_target {
 public:
  http_replication_target(replication_peer peer, replication_client_settings settings, const clock& clk)
      : peer_(std::move(peer)),
        settings_(std::move(settings)),
        clock_(clk),
        signer_(auth::aws_credentials{peer_.access_key_id, peer_.secret_access_key}, peer_.region, "ecr") {}

  result<void> ensure_repository(const std::string& name, const repository_config& settings) override {
    {
      std::lock_guard lock(mutex_);
      if (ensured_.count(name)) return {};
    }
    json in{{"repositoryName", name},
            {"registryId", peer_.registry_id},
            {"imageTagMutability", settings.image_tag_mutability},
            {"imageScanningConfiguration", {{"scanOnPush", settings.scan_on_push}}},
            {"encryptionConfiguration", {{"encryptionType", settings.encryption_type}}}};
    if (!settings.kms_key.empty()) in["encryptionConfiguration"]["kmsKey"] = settings.kms_key;
    if (!settings.exclusion_filters.empty()) {
      auto filters = json::array();
      for (const auto& f : settings.exclusion_filters) filters.push_back({{"filter", f}, {"filterType", "WILDCARD"}});
      in["imageTagMutabilityExclusionFilters"] = filters;
    }
    auto r = call_ecr("CreateRepository", in);
    if (!r) return r.take_error();
    if (r->status != 200) {
      auto doc = json::parse(r->body, nullptr, false);
      const std::string type = doc.is_object() ? doc.value("__type", "") : "";
      if (type.find("RepositoryAlreadyExistsException") == std::string::npos) {
        auto e = ecr_failure("CreateRepository", *r);
        if (e.code != errc::denied) return e;
        // Refused CreateRepository: the repository may exist there already, and the push says.
        std::lock_guard lock(mutex_);
        create_denied_.insert(name);
        return {};
      }
    }
    std::lock_guard lock(mutex_);
    ensured_.insert(name);
    return {};
  }

  result<bool> has_blob(const std::string& repository, const digest& d) override {
    auto r = v2("HEAD", "/v2/" + repository + "/blobs/" + d.str());
    if (!r) return r.take_error();
    if (r->status == 200) return true;
    if (r->status == 404) return false;
    return v2_failure(repository, *r);
  }

  result<bool> mount_blob(const std::string& repository, const std::string& from, const digest& d) override {
    auto r = v2("POST", "/v2/" + repository + "/blobs/uploads/?mount=" + d.str() + "&from=" + from);
    if (!r) return r.take_error();
    if (r->status == 201) return true;
    if (r->status == 202) {
      // Not mounted: the session the peer opened instead is of no use here.
      if (auto loc = r->headers.find("Location")) (void)v2("DELETE", target_of(std::string(*loc)));
      return false;
    }
    return v2_failure(repository, *r);
  }

  result<void> push_blob(const std::string& repository, const digest& d, std::uint64_t size,
                         byte_reader& body) override {
    auto started = v2("POST", "/v2/" + repository + "/blobs/uploads/");
    if (!started) return started.take_error();
    if (started->status != 202) return v2_failure(repository, *started).take_error();
    auto loc = started->headers.find("Location");
    if (!loc) return make_error(errc::unavailable, "the peer started an upload without a Location");
    auto target = target_of(std::string(*loc));
    target += (target.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + d.str();
    auto r = with_token(
        [&](const std::string& token) {
          http::client_request req{"PUT", target, v2_headers(token), {}};
          req.headers.emplace_back("Content-Type", "application/octet-stream");
          return client()->send_streamed(req, body, size);
        },
        false);
    if (!r) return r.take_error();
    if (r->status == 201) return {};
    // The body was sent with an expired token: the token is renewed, the next attempt sends it again.
    if (r->status == 401) return make_error(errc::unavailable, "the peer's login token expired during an upload");
    return v2_failure(repository, *r).take_error();
  }

  result<bool> has_manifest(const std::string& repository, const std::string& digest_text) override {
    auto r = v2("HEAD", "/v2/" + repository + "/manifests/" + digest_text);
    if (!r) return r.take_error();
    if (r->status == 200) return true;
    if (r->status == 404) return false;
    return v2_failure(repository, *r);
  }

  result<void> push_manifest(const std::string& repository, const std::string& reference, const std::string& media_type,
                             const std::string& content) override {
    auto r = with_token([&](const std::string& token) {
      http::client_request req{"PUT", "/v2/" + repository + "/manifests/" + reference, v2_headers(token), content};
      req.headers.emplace_back("Content-Type", media_type);
      return client()->send(req, 1024 * 1024);
    });
    if (!r) return r.take_error();
    if (r->status == 201) return {};
    return v2_failure(repository, *r).take_error();
  }

 private:
  std::shared_ptr<http::http_client> client() {
    std::lock_guard lock(mutex_);
    return client_;
  }

  result<void> connect() {
    std::lock_guard lock(mutex_);
    if (client_) return {};
    http::client_options o;
    o.connect_timeout = settings_.connect_timeout;
    o.io_timeout = settings_.io_timeout;
    auto c = http::make_http_client(peer_.endpoint, o);
    if (!c) return c.take_error();
    client_ = std::move(c).value();
    return {};
  }

  // A Location header as a request target on the peer (absolute URLs keep only path and query).
  static std::string target_of(std::string loc) {
    if (auto scheme = loc.find("://"); scheme != std::string::npos) {
      auto path = loc.find('/', scheme + 3);
      loc = path == std::string::npos ? "/" : loc.substr(path);
    }
    return loc;
  }

  result<http::client_response> call_ecr(const std::string& op, const json& in) {
    if (auto c = connect(); !c) return c.take_error();
    const auto body = in.dump();
    std::vector<std::pair<std::string, std::string>> headers{{"host", client()->host_header()},
                                                             {"content-type", "application/x-amz-json-1.1"},
                                                             {"x-amz-target", ecr_target_prefix + op}};
    signer_.sign("POST", "/", "", headers, auth::sha256_hex(body), clock_.now_seconds());
    std::erase_if(headers, [](const auto& h) { return h.first == "host"; });  // the client sends its own
    http::client_request req{"POST", "/", std::move(headers), body};
    return client()->send(req, 1024 * 1024);
  }

  error ecr_failure(const std::string& op, const http::client_response& r) {
    auto doc = json::parse(r.body, nullptr, false);
    std::string type = doc.is_object() ? doc.value("__type", "") : "";
    std::string message = doc.is_object() ? doc.value("message", doc.value("Message", "")) : "";
    auto what = op + " on " + peer_.endpoint + ": " + std::to_string(r.status) + " " + type + " " + message;
    if (r.status >= 500 || r.status == 429 || type.find("Throttling") != std::string::npos) {
      return make_error(errc::unavailable, what);
    }
    if (type.find("AccessDenied") != std::string::npos || type.find("UnrecognizedClient") != std::string::npos ||
        type.find("InvalidSignature") != std::string::npos || r.status == 403 || r.status == 401) {
      return make_error(errc::denied, what);
    }
    if (type.find("LimitExceeded") != std::string::npos) return make_error(errc::limit_exceeded, what);
    return make_error(errc::manifest_invalid, what);
  }

  // A login token for V2, fetched with GetAuthorizationToken and kept until shortly before it expires.
  result<std::string> token(bool fresh) {
    const auto now = clock_.now_seconds();
    {
      std::lock_guard lock(mutex_);
      if (!fresh && !token_.empty() && now + 300 < token_expires_) return token_;
    }
    auto r = call_ecr("GetAuthorizationToken", json::object());
    if (!r) return r.take_error();
    if (r->status != 200) return ecr_failure("GetAuthorizationToken", *r);
    auto doc = json::parse(r->body, nullptr, false);
    if (!doc.is_object() || !doc.contains("authorizationData") || !doc["authorizationData"].is_array() ||
        doc["authorizationData"].empty()) {
      return make_error(errc::unavailable, "GetAuthorizationToken on " + peer_.endpoint + ": no authorizationData");
    }
    const auto& data = doc["authorizationData"][0];
    std::string value = data.value("authorizationToken", "");
    std::int64_t expires = now + 3600;
    if (data.contains("expiresAt") && data["expiresAt"].is_number()) {
      expires = static_cast<std::int64_t>(data["expiresAt"].get<double>());
    }
    std::lock_guard lock(mutex_);
    token_ = value;
    token_expires_ = expires;
    return value;
  }

  std::vector<std::pair<std::string, std::string>> v2_headers(const std::string& token) const {
    return {{"Authorization", "Basic " + token}, {replication_header, settings_.source_registry_id}};
  }

  // Runs `send` with the token; a 401 fetches a new token and, when `again`, sends once more.
  template <class Send>
  result<http::client_response> with_token(Send send, bool again = true) {
    if (auto c = connect(); !c) return c.take_error();
    auto t = token(false);
    if (!t) return t.take_error();
    auto r = send(*t);
    if (!r || r->status != 401) return r;
    auto renewed = token(true);
    if (!renewed) return renewed.take_error();
    if (!again) return r;
    return send(*renewed);
  }

  result<http::client_response> v2(const std::string& method, const std::string& target) {
    return with_token([&](const std::string& token) {
      http::client_request req{method, target, v2_headers(token), {}};
      return client()->send(req, 1024 * 1024);
    });
  }

  // What a V2 answer other than the expected one means for the replicator.
  template <class T = bool>
  result<T> v2_failure(const std::string& repository, const http::client_response& r) {
    const auto code = v2_code(r);
    auto what = peer_.endpoint + " answered " + std::to_string(r.status) + (code.empty() ? "" : " " + code) + " for " +
                repository;
    if (r.status == 401 || r.status == 403) return make_error(errc::denied, what);
    if (code == "NAME_UNKNOWN") {
      // Deleted there since this process created it: create it again next attempt.
      std::lock_guard lock(mutex_);
      ensured_.erase(repository);
      if (create_denied_.erase(repository)) return make_error(errc::denied, what + " (CreateRepository refused)");
      return make_error(errc::unavailable, what);
    }
    if (code == "TAG_INVALID") return make_error(errc::tag_immutable, what);
    if (code == "MANIFEST_INVALID" || code == "MANIFEST_BLOB_UNKNOWN" || code == "MANIFEST_UNKNOWN") {
      return make_error(errc::manifest_invalid, what);
    }
    if (code == "BLOB_UPLOAD_UNKNOWN" || code == "BLOB_UNKNOWN") {
      // An upload the peer expired or lost (a restart mid-upload): start it again.
      return make_error(errc::unavailable, what);
    }
    if (code == "DIGEST_INVALID" || code == "BLOB_UPLOAD_INVALID" || code == "SIZE_INVALID") {
      return make_error(errc::blob_upload_invalid, what);
    }
    if (r.status == 429 || r.status >= 500) return make_error(errc::unavailable, what);
    return make_error(errc::manifest_invalid, what);
  }

  replication_peer peer_;
  replication_client_settings settings_;
  const clock& clock_;
  auth::sigv4_signer signer_;
  std::mutex mutex_;
  std::shared_ptr<http::http_client> client_;
  std::string token_;
  std::int64_t token_expires_ = 0;
  std::set<std::string> ensured_;
  std::set<std::string> create_denied_;
};

}  // namespace

std::shared_ptr<replication_target> http_replication_connector::connect(const replication_peer& peer) {
  return std::make_shared<http_replication_target>(peer, settings_, clock_);
}

}  // namespace berth::upstream
