#include "berth/ecr/ecr_api.hpp"

#include <spdlog/spdlog.h>

#include "berth/core/json_depth.hpp"
#include "berth/http/simple_exchange.hpp"
#include "exception_table.hpp"
#include "operations.hpp"
#include "shape_validator.hpp"

namespace berth::ecr {
namespace {

constexpr std::string_view target_prefix = "AmazonEC2ContainerRegistry_V20150921.";

http::response base_response(const std::string& request_id) {
  http::response r;
  r.headers.add("x-amzn-RequestId", request_id);
  r.headers.add("Content-Type", "application/x-amz-json-1.1");
  return r;
}

http::response error_response(const error& e, const std::string& request_id, const std::string& registry_id) {
  auto r = base_response(request_id);
  const auto kind = exception_for(e.code);
  r.status = kind.status;
  r.headers.add("X-Amzn-ErrorType", std::string(kind.type));
  json body = {{"__type", kind.type}, {"message", e.message}};
  // InvalidLayerPartException carries where the upload really ends.
  if (const auto* u = std::get_if<upload_detail>(&e.detail); u && kind.type == "InvalidLayerPartException") {
    body["registryId"] = registry_id;
    body["repositoryName"] = u->repository;
    body["uploadId"] = u->upload_id;
    body["lastValidByteReceived"] = static_cast<std::int64_t>(u->size) - 1;
  }
  if (r.status >= 500) spdlog::error("ECR request {} failed: {}", request_id, e.message);
  r.body = body.dump();
  return r;
}

// The repositories a call acts on (the names it gives), or none for registry-wide operations.
std::vector<std::string> repositories_of(const std::string& op, const json& in) {
  std::vector<std::string> out;
  if (in.contains("repositoryName") && in["repositoryName"].is_string()) {
    out.push_back(in["repositoryName"].get<std::string>());
  }
  if (op == "DescribeRepositories" && in.contains("repositoryNames") && in["repositoryNames"].is_array()) {
    for (const auto& n : in["repositoryNames"])
      if (n.is_string()) out.push_back(n.get<std::string>());
  }
  return out;
}

// Every operation is its ecr: action, on the repositories it names (each must be allowed), on the
// resource ARN it gives (the tagging operations), or on "*".
result<void> authorize(const access_control& access, const std::string& op, const json& in,
                       const auth::identity& caller, const http::request& req) {
  access_request what;
  what.action = "ecr:" + op;
  what.source_ip = req.peer_address();
  what.secure_transport = req.tls;
  if (in.contains("tags") && in["tags"].is_array() && (op == "CreateRepository" || op == "TagResource")) {
    std::vector<std::pair<std::string, std::string>> tags;
    for (const auto& t : in["tags"]) {
      if (t.is_object() && t.contains("Key") && t["Key"].is_string()) {
        tags.emplace_back(t["Key"].get<std::string>(), t.value("Value", std::string()));
      }
    }
    what.request_tags = std::move(tags);
  }
  if (in.contains("resourceArn") && in["resourceArn"].is_string()) {
    const auto arn = in["resourceArn"].get<std::string>();
    const auto slash = arn.find(":repository/");
    if (slash != std::string::npos) what.repository = arn.substr(slash + 12);
    what.resource = arn;
    req.notes.resource = arn;
    return access.authorize(caller, what);
  }
  auto names = repositories_of(op, in);
  if (names.empty()) {
    // A listing of every repository is an action on all of them.
    if (op == "DescribeRepositories") what.resource = access.repository_arn("*");
    req.notes.resource = what.resource.empty() ? std::string("*") : what.resource;
    return access.authorize(caller, what);
  }
  for (auto& n : names) {
    what.repository = std::move(n);
    req.notes.resource = access.repository_arn(what.repository);
    if (auto r = access.authorize(caller, what); !r) return r;
  }
  return {};
}

}  // namespace

ecr_api::ecr_api(registry& reg, lifecycle_service& lifecycle, const auth::credential_source& credentials,
                 const auth::login_token_issuer& tokens, const auth::blob_url_signer& urls, const clock& clk,
                 ecr_settings settings, ecr_access access, ecr_cache cache, ecr_replication replication)
    : reg_(reg),
      lifecycle_(lifecycle),
      credentials_(credentials),
      tokens_(tokens),
      urls_(urls),
      clock_(clk),
      settings_(std::move(settings)),
      access_(access),
      cache_(cache),
      replication_(replication),
      verifier_(credentials_, settings_.region, "ecr") {}

std::unique_ptr<http::exchange> ecr_api::exchange() const {
  return std::make_unique<http::buffered_exchange>(
      settings_.max_json_body, [this](http::request& req) { return handle(req); },
      [this] {
        http::response r = error_response(make_error(errc::malformed_request, "Request body too large"),
                                          new_upload_id(), settings_.account_id);
        r.status = 413;
        return r;
      },
      true,
      [this] {
        return error_response(make_error(errc::malformed_request, "Malformed HTTP request body"), new_upload_id(),
                              settings_.account_id);
      });
}

http::response ecr_api::handle(const http::request& req) const {
  const auto request_id = new_upload_id();
  req.notes.request_id = request_id;
  const auto now = clock_.now_seconds();
  auto fail = [&](const error& e) { return error_response(e, request_id, settings_.account_id); };

  auto target = std::string(req.header("X-Amz-Target").value_or(""));
  auto op = target.starts_with(target_prefix) ? target.substr(target_prefix.size()) : std::string();
  req.notes.api = "ecr";

  auth::identity caller;
  caller.name = "anonymous";
  caller.full_access = true;  // auth: none
  if (settings_.auth_enabled) {
    const auto sr = auth::signable_post(req);
    auto who = verifier_.verify(sr, now);
    if (!who) {
      req.notes.unauthenticated = true;
      return fail(who.error_value());
    }
    caller = *who;
    req.notes.principal = caller.arn;
    req.notes.access_key_id = caller.access_key_id;
  }

  const auto& validator = shape_validator::instance();
  if (op.empty() || !validator.has_operation(op)) {
    auto r = base_response(request_id);
    r.status = 400;
    r.headers.add("X-Amzn-ErrorType", "UnknownOperationException");
    r.body = json{{"__type", "UnknownOperationException"}, {"message", "Unknown operation " + target}}.dump();
    return r;
  }
  if (!json_depth_within(req.body)) {
    return fail(make_error(errc::malformed_request, "The request body is nested too deeply"));
  }
  json input = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    return fail(make_error(errc::malformed_request, "The request body is not a valid JSON object"));
  }
  if (auto v = validator.validate(op, input); !v) return fail(v.error_value());

  const auto& table = operation_table();
  auto it = table.find(op);
  if (it != table.end()) req.notes.operation = it->first;  // the table's key: a static string
  if (it == table.end()) {
    return fail(make_error(errc::unsupported_operation,
                           "Berth does not implement " + op + " yet; see docs/api-coverage.md for what it supports"));
  }
  if (access_.control) {
    req.notes.action = "ecr:" + op;
    if (auto allowed = authorize(*access_.control, op, input, caller, req); !allowed) {
      req.notes.denied = allowed.error_value().code == errc::denied;
      return fail(allowed.error_value());
    }
  }
  call_context ctx{
      reg_,
      reg_.repositories(),
      lifecycle_,
      tokens_,
      urls_,
      settings_,
      caller,
      access_,
      cache_,
      replication_,
      settings_.public_host.empty() ? std::string(req.header("Host").value_or("localhost")) : settings_.public_host,
      now};
  result<json> out = make_error(errc::internal, "no result");
  try {
    out = it->second(ctx, input);
  } catch (const std::exception& e) {
    out = make_error(errc::internal, std::string("internal error: ") + e.what());
  }
  if (!out) return fail(out.error_value());
  spdlog::debug("ECR {} by {} ok", op, caller.name);
  auto r = base_response(request_id);
  r.body = out->dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

}  // namespace berth::ecr
