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

}  // namespace

ecr_api::ecr_api(registry& reg, lifecycle_service& lifecycle, const auth::credential_store& credentials,
                 const auth::login_token_issuer& tokens, const auth::blob_url_signer& urls, const clock& clk,
                 ecr_settings settings)
    : reg_(reg),
      lifecycle_(lifecycle),
      credentials_(credentials),
      tokens_(tokens),
      urls_(urls),
      clock_(clk),
      settings_(std::move(settings)),
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
  const auto now = clock_.now_seconds();
  auto fail = [&](const error& e) { return error_response(e, request_id, settings_.account_id); };

  auto target = std::string(req.header("X-Amz-Target").value_or(""));
  auto op = target.starts_with(target_prefix) ? target.substr(target_prefix.size()) : std::string();
  req.notes.api = "ecr";

  auth::identity caller{"anonymous", "", "", false};
  if (settings_.auth_enabled) {
    auth::signable_request sr;
    sr.method = "POST";
    sr.path = req.path;
    sr.query = req.query;
    sr.headers = req.headers.items();
    sr.payload_hash = auth::sha256_hex(req.body);
    auto who = verifier_.verify(sr, now);
    if (!who) return fail(who.error_value());
    caller = *who;
    req.notes.principal = caller.arn;
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
  call_context ctx{
      reg_,
      reg_.repositories(),
      lifecycle_,
      tokens_,
      urls_,
      settings_,
      caller,
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
