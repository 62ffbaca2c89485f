#include "berth/oci/wire_error.hpp"

#include <nlohmann/json.hpp>

#include <type_traits>

namespace berth::oci {

wire_code wire_code_for(errc e) {
  switch (e) {
    case errc::blob_unknown: return {"BLOB_UNKNOWN", 404};
    case errc::blob_upload_invalid: return {"BLOB_UPLOAD_INVALID", 400};
    case errc::blob_upload_unknown: return {"BLOB_UPLOAD_UNKNOWN", 404};
    case errc::upload_out_of_order: return {"BLOB_UPLOAD_INVALID", 416};
    case errc::digest_invalid: return {"DIGEST_INVALID", 400};
    case errc::manifest_blob_unknown: return {"MANIFEST_BLOB_UNKNOWN", 400};
    case errc::manifest_invalid: return {"MANIFEST_INVALID", 400};
    case errc::manifest_unknown: return {"MANIFEST_UNKNOWN", 404};
    case errc::manifest_too_large: return {"SIZE_INVALID", 413};
    case errc::name_invalid: return {"NAME_INVALID", 400};
    case errc::name_unknown: return {"NAME_UNKNOWN", 404};
    case errc::size_invalid: return {"SIZE_INVALID", 400};
    case errc::tag_invalid: return {"TAG_INVALID", 400};
    case errc::range_invalid: return {"RANGE_INVALID", 416};
    case errc::pagination_number_invalid: return {"PAGINATION_NUMBER_INVALID", 400};
    case errc::unsupported: return {"UNSUPPORTED", 405};
    case errc::too_many_requests: return {"TOOMANYREQUESTS", 429};
    case errc::unauthorized: return {"UNAUTHORIZED", 401};
    case errc::denied: return {"DENIED", 403};
    case errc::storage_full: return {"UNAVAILABLE", 507};
    case errc::internal: return {"UNKNOWN", 500};
    case errc::missing_authentication:
    case errc::unrecognized_client:
    case errc::invalid_signature:
    case errc::incomplete_signature:
    case errc::token_invalid: return {"UNAUTHORIZED", 401};
    case errc::token_expired: return {"DENIED", 403};
    case errc::tag_immutable: return {"TAG_INVALID", 400};
    case errc::image_not_found: return {"MANIFEST_UNKNOWN", 404};
    case errc::image_digest_mismatch: return {"DIGEST_INVALID", 400};
    case errc::layers_not_found: return {"BLOB_UNKNOWN", 404};
    case errc::referenced_images_not_found: return {"MANIFEST_BLOB_UNKNOWN", 400};
    case errc::image_referenced_by_index: return {"DENIED", 403};
    case errc::too_many_tags:
    case errc::limit_exceeded: return {"TOOMANYREQUESTS", 429};
    case errc::unsupported_operation: return {"UNSUPPORTED", 405};
    case errc::repository_already_exists:
    case errc::repository_not_empty:
    case errc::image_already_exists:
    case errc::layer_already_exists:
    case errc::layer_part_too_small:
    case errc::invalid_layer_part:
    case errc::invalid_layer:
    case errc::empty_upload:
    case errc::template_already_exists:
    case errc::template_not_found:
    case errc::invalid_parameter:
    case errc::invalid_tag_parameter: return {"UNSUPPORTED", 400};
    case errc::malformed_request: return {"MANIFEST_INVALID", 400};
    case errc::lifecycle_policy_not_found:
    case errc::lifecycle_preview_not_found:
    case errc::lifecycle_preview_in_progress: return {"UNSUPPORTED", 400};
    case errc::malformed_policy_document:
    case errc::entity_already_exists:
    case errc::no_such_entity:
    case errc::delete_conflict:
    case errc::repository_policy_not_found:
    case errc::registry_policy_not_found:
    case errc::exclusion_already_exists:
    case errc::exclusion_not_found:
    case errc::secret_already_exists:
    case errc::secret_not_found:
    case errc::invalid_request:
    case errc::pull_through_rule_already_exists:
    case errc::pull_through_rule_not_found:
    case errc::unsupported_upstream_registry: return {"UNSUPPORTED", 400};
    // Pulling through a cache whose upstream fails: the client may retry.
    case errc::unable_to_access_secret:
    case errc::unable_to_decrypt_secret:
    case errc::upstream_unavailable: return {"UNAVAILABLE", 503};
    case errc::busy: return {"TOOMANYREQUESTS", 429};
    case errc::unavailable: return {"UNAVAILABLE", 503};
  }
  return {"UNKNOWN", 500};
}

http::response error_response(const error& e) {
  auto wc = wire_code_for(e.code);
  nlohmann::json item = {{"code", wc.code}, {"message", e.message.empty() ? std::string(wc.code) : e.message}};
  std::visit(
      [&](const auto& d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, digest_detail>) {
          item["detail"] = d.digest;
        } else if constexpr (std::is_same_v<T, upload_detail>) {
          item["detail"] = d.size;
        } else if constexpr (std::is_same_v<T, tag_detail>) {
          item["detail"] = d.tag;
        }
      },
      e.detail);
  http::response r;
  r.status = wc.status;
  r.headers.add("Content-Type", "application/json; charset=utf-8");
  r.body = nlohmann::json{{"errors", nlohmann::json::array({item})}}.dump();
  return r;
}

http::response error_response(errc code, std::string message) {
  return error_response(make_error(code, std::move(message)));
}

}  // namespace berth::oci
