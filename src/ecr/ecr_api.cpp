#include "berth/ecr/ecr_api.hpp"

#include <spdlog/spdlog.h>

#include "berth/http/simple_exchange.hpp"
#include "berth/registry/json_depth.hpp"
#include "operations.hpp"
#include "shape_validator.hpp"

namespace berth::ecr {
namespace {

constexpr std::string_view target_prefix = "AmazonEC2ContainerRegistry_V20150921.";

// The one table from domain errors to ECR exception names.
std::string exception_name(errc code) {
  switch (code) {
    case errc::name_unknown: return "RepositoryNotFoundException";
    case errc::repository_already_exists: return "RepositoryAlreadyExistsException";
    case errc::repository_not_empty: return "RepositoryNotEmptyException";
    case errc::tag_immutable: return "ImageTagAlreadyExistsException";
    case errc::image_already_exists: return "ImageAlreadyExistsException";
    case errc::image_not_found:
    case errc::manifest_unknown: return "ImageNotFoundException";
    case errc::image_digest_mismatch: return "ImageDigestDoesNotMatchException";
    case errc::manifest_blob_unknown:
    case errc::layers_not_found:
    case errc::blob_unknown: return "LayersNotFoundException";
    case errc::referenced_images_not_found: return "ReferencedImagesNotFoundException";
    case errc::layer_already_exists: return "LayerAlreadyExistsException";
    case errc::layer_part_too_small: return "LayerPartTooSmallException";
    case errc::invalid_layer_part:
    case errc::upload_out_of_order: return "InvalidLayerPartException";
    case errc::invalid_layer: return "InvalidLayerException";
    case errc::empty_upload: return "EmptyUploadException";
    case errc::blob_upload_unknown: return "UploadNotFoundException";
    case errc::template_already_exists: return "TemplateAlreadyExistsException";
    case errc::template_not_found: return "TemplateNotFoundException";
    case errc::invalid_tag_parameter: return "InvalidTagParameterException";
    case errc::too_many_tags: return "TooManyTagsException";
    case errc::limit_exceeded: return "LimitExceededException";
    case errc::too_many_requests: return "ThrottlingException";
    case errc::unsupported_operation: return "UnsupportedOperationException";
    case errc::malformed_request: return "SerializationException";
    case errc::lifecycle_policy_not_found: return "LifecyclePolicyNotFoundException";
    case errc::lifecycle_preview_not_found: return "LifecyclePolicyPreviewNotFoundException";
    case errc::lifecycle_preview_in_progress: return "LifecyclePolicyPreviewInProgressException";
    case errc::missing_authentication: return "MissingAuthenticationTokenException";
    case errc::unrecognized_client: return "UnrecognizedClientException";
    case errc::invalid_signature: return "InvalidSignatureException";
    case errc::incomplete_signature: return "IncompleteSignatureException";
    case errc::token_invalid:
    case errc::token_expired:
    case errc::denied:
    case errc::unauthorized: return "AccessDeniedException";
    case errc::internal:
    case errc::storage_full: return "ServerException";
    default: return "InvalidParameterException";
  }
}

http::response base_response(const std::string& request_id) {
  http::response r;
  r.headers.add("x-amzn-RequestId", request_id);
  r.headers.add("Content-Type", "application/x-amz-json-1.1");
  return r;
}

http::response error_response(const error& e, const std::string& request_id) {
  auto r = base_response(request_id);
  auto type = exception_name(e.code);
  r.status = type == "ServerException" ? 500 : 400;
  r.headers.add("X-Amzn-ErrorType", type);
  json body = {{"__type", type}, {"message", e.message}};
  // Exceptions with extra members carry them as a JSON object in `detail`.
  if (!e.detail.empty() && e.detail.front() == '{') {
    auto extra = json::parse(e.detail, nullptr, false);
    if (extra.is_object()) body.update(extra);
  }
  if (r.status >= 500) spdlog::error("ECR request {} failed: {}", request_id, e.message);
  r.body = body.dump();
  return r;
}

}  // namespace

ecr_api::ecr_api(registry& reg, const auth::credential_store& credentials, const auth::login_token_issuer& tokens,
                 const auth::blob_url_signer& urls, const clock& clk, ecr_settings settings)
    : reg_(reg),
      credentials_(credentials),
      tokens_(tokens),
      urls_(urls),
      clock_(clk),
      settings_(std::move(settings)),
      verifier_(credentials_, settings_.region, "ecr") {}

std::unique_ptr<http::exchange> ecr_api::exchange() const {
  return std::make_unique<http::buffered_exchange>(
      settings_.max_json_body, [this](http::request& req) { return handle(req); },
      [] {
        http::response r = error_response(make_error(errc::malformed_request, "Request body too large"), new_upload_id());
        r.status = 413;
        return r;
      },
      true,
      [] { return error_response(make_error(errc::malformed_request, "Malformed HTTP request body"), new_upload_id()); });
}

http::response ecr_api::handle(const http::request& req) const {
  const auto request_id = new_upload_id();
  const auto now = clock_.now_seconds();
  auto fail = [&](const error& e) { return error_response(e, request_id); };

  auto target = std::string(req.header("X-Amz-Target").value_or(""));
  auto op = target.starts_with(target_prefix) ? target.substr(target_prefix.size()) : std::string();

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
  if (it == table.end()) {
    return fail(make_error(errc::unsupported_operation,
                           "Berth does not implement " + op + " yet; see docs/api-coverage.md for what it supports"));
  }
  call_context ctx{reg_,
                   reg_.repositories(),
                   tokens_,
                   urls_,
                   settings_,
                   caller,
                   settings_.public_host.empty() ? std::string(req.header("Host").value_or("localhost"))
                                                 : settings_.public_host,
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
