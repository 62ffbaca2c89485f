#include "berth/secrets/secrets_api.hpp"

#include <spdlog/spdlog.h>

#include "berth/core/json_depth.hpp"
#include "berth/core/names.hpp"
#include "berth/http/simple_exchange.hpp"
#include "secret_operations.hpp"
#include "secrets_errors.hpp"

namespace berth::secrets {
namespace {

constexpr std::string_view target_prefix = "secretsmanager.";

http::response error_response(const error& e, const std::string& request_id) {
  const auto kind = exception_for(e.code);
  http::response r;
  r.status = kind.status;
  r.headers.add("x-amzn-RequestId", request_id);
  r.headers.add("Content-Type", "application/x-amz-json-1.1");
  if (r.status >= 500) spdlog::error("Secrets Manager request {} failed: {}", request_id, e.message);
  // Secrets Manager spells the member "Message".
  r.body = json{{"__type", kind.type}, {"Message", e.message}}.dump();
  return r;
}

// The secret an operation acts on, as IAM names it: its ARN when it exists (or for CreateSecret,
// the ARN without the random suffix), "*" for ListSecrets.
std::string resource_of(secret_vault& vault, const std::string& op, const json& in) {
  if (op == "ListSecrets") return "*";
  if (op == "CreateSecret") return vault.arn_prefix() + in.value("Name", std::string());
  const auto id = in.contains("SecretId") && in["SecretId"].is_string() ? in["SecretId"].get<std::string>() : "";
  if (auto found = vault.describe(id)) return found->arn;
  return id.starts_with("arn:") ? id : vault.arn_prefix() + id;
}

}  // namespace

bool is_secrets_request(const http::request& head) {
  auto target = head.header("X-Amz-Target");
  return head.path == "/" && head.method == http::verb::post && target && target->starts_with(target_prefix);
}

secrets_api::secrets_api(secret_vault& vault, const access_control* access, const auth::credential_source& credentials,
                         const clock& clk, secrets_settings settings)
    : vault_(vault),
      access_(access),
      clock_(clk),
      settings_(std::move(settings)),
      verifier_(credentials, settings_.region, "secretsmanager") {}

std::unique_ptr<http::exchange> secrets_api::exchange() const {
  return std::make_unique<http::buffered_exchange>(
      settings_.max_body, [this](http::request& req) { return handle(req); },
      [] {
        auto r = error_response(make_error(errc::invalid_parameter, "Request body too large"), new_upload_id());
        r.status = 413;
        return r;
      },
      true,
      [] {
        return error_response(make_error(errc::malformed_request, "Malformed HTTP request body"), new_upload_id());
      });
}

http::response secrets_api::handle(const http::request& req) const {
  const auto request_id = new_upload_id();
  req.notes.request_id = request_id;
  auto fail = [&](const error& e) { return error_response(e, request_id); };
  req.notes.api = "secretsmanager";
  const auto target = std::string(req.header("X-Amz-Target").value_or(""));
  const auto op = target.substr(std::min(target.size(), target_prefix.size()));

  auth::identity caller;
  caller.name = "anonymous";
  caller.full_access = true;  // auth: none
  if (settings_.auth_enabled) {
    const auto sr = auth::signable_post(req);
    auto who = verifier_.verify(sr, clock_.now_seconds());
    if (!who) {
      req.notes.unauthenticated = true;
      return fail(who.error_value());
    }
    caller = *who;
    req.notes.principal = caller.arn;
    req.notes.access_key_id = caller.access_key_id;
  }

  const auto& table = operation_table();
  auto it = table.find(op);
  if (it == table.end()) {
    // Berth implements the operations pull-through cache credentials need (docs/api-coverage.md).
    http::response r;
    r.status = 400;
    r.headers.add("x-amzn-RequestId", request_id);
    r.headers.add("Content-Type", "application/x-amz-json-1.1");
    r.body = json{{"__type", "UnknownOperationException"}, {"Message", "Unknown operation " + target}}.dump();
    return r;
  }
  req.notes.operation = it->first;
  if (!json_depth_within(req.body))
    return fail(make_error(errc::malformed_request, "The request body is nested too deeply"));
  json input = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    return fail(make_error(errc::malformed_request, "The request body is not a valid JSON object"));
  }
  if (access_) {
    access_request what;
    what.action = "secretsmanager:" + op;
    what.resource = resource_of(vault_, op, input);
    what.source_ip = req.peer_address();
    what.secure_transport = req.tls;
    req.notes.action = what.action;
    req.notes.resource = what.resource;
    if (auto allowed = access_->authorize(caller, what); !allowed) {
      req.notes.denied = allowed.error_value().code == errc::denied;
      return fail(allowed.error_value());
    }
  }
  result<json> out = make_error(errc::internal, "no result");
  try {
    out = it->second(vault_, input);
  } catch (const std::exception& e) {
    out = make_error(errc::internal, std::string("internal error: ") + e.what());
  }
  if (!out) return fail(out.error_value());
  http::response r;
  r.status = 200;
  r.headers.add("x-amzn-RequestId", request_id);
  r.headers.add("Content-Type", "application/x-amz-json-1.1");
  r.body = out->dump();
  return r;
}

}  // namespace berth::secrets
