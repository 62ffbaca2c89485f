#include "berth/core/error.hpp"

namespace berth {

const char* to_string(errc code) {
  switch (code) {
    case errc::blob_unknown: return "blob_unknown";
    case errc::blob_upload_invalid: return "blob_upload_invalid";
    case errc::blob_upload_unknown: return "blob_upload_unknown";
    case errc::upload_out_of_order: return "upload_out_of_order";
    case errc::digest_invalid: return "digest_invalid";
    case errc::manifest_blob_unknown: return "manifest_blob_unknown";
    case errc::manifest_invalid: return "manifest_invalid";
    case errc::manifest_unknown: return "manifest_unknown";
    case errc::manifest_too_large: return "manifest_too_large";
    case errc::name_invalid: return "name_invalid";
    case errc::name_unknown: return "name_unknown";
    case errc::size_invalid: return "size_invalid";
    case errc::tag_invalid: return "tag_invalid";
    case errc::range_invalid: return "range_invalid";
    case errc::pagination_number_invalid: return "pagination_number_invalid";
    case errc::unsupported: return "unsupported";
    case errc::too_many_requests: return "too_many_requests";
    case errc::unauthorized: return "unauthorized";
    case errc::denied: return "denied";
    case errc::storage_full: return "storage_full";
    case errc::internal: return "internal";
    case errc::missing_authentication: return "missing_authentication";
    case errc::unrecognized_client: return "unrecognized_client";
    case errc::invalid_signature: return "invalid_signature";
    case errc::incomplete_signature: return "incomplete_signature";
    case errc::token_invalid: return "token_invalid";
    case errc::token_expired: return "token_expired";
    case errc::repository_already_exists: return "repository_already_exists";
    case errc::repository_not_empty: return "repository_not_empty";
    case errc::tag_immutable: return "tag_immutable";
    case errc::image_already_exists: return "image_already_exists";
    case errc::image_not_found: return "image_not_found";
    case errc::image_digest_mismatch: return "image_digest_mismatch";
    case errc::image_referenced_by_index: return "image_referenced_by_index";
    case errc::layers_not_found: return "layers_not_found";
    case errc::referenced_images_not_found: return "referenced_images_not_found";
    case errc::layer_already_exists: return "layer_already_exists";
    case errc::layer_part_too_small: return "layer_part_too_small";
    case errc::invalid_layer_part: return "invalid_layer_part";
    case errc::invalid_layer: return "invalid_layer";
    case errc::empty_upload: return "empty_upload";
    case errc::template_already_exists: return "template_already_exists";
    case errc::template_not_found: return "template_not_found";
    case errc::invalid_parameter: return "invalid_parameter";
    case errc::invalid_tag_parameter: return "invalid_tag_parameter";
    case errc::too_many_tags: return "too_many_tags";
    case errc::limit_exceeded: return "limit_exceeded";
    case errc::unsupported_operation: return "unsupported_operation";
    case errc::malformed_request: return "malformed_request";
    case errc::lifecycle_policy_not_found: return "lifecycle_policy_not_found";
    case errc::lifecycle_preview_not_found: return "lifecycle_preview_not_found";
    case errc::lifecycle_preview_in_progress: return "lifecycle_preview_in_progress";
    case errc::malformed_policy_document: return "malformed_policy_document";
    case errc::entity_already_exists: return "entity_already_exists";
    case errc::no_such_entity: return "no_such_entity";
    case errc::delete_conflict: return "delete_conflict";
    case errc::repository_policy_not_found: return "repository_policy_not_found";
    case errc::registry_policy_not_found: return "registry_policy_not_found";
    case errc::exclusion_already_exists: return "exclusion_already_exists";
    case errc::exclusion_not_found: return "exclusion_not_found";
    case errc::secret_already_exists: return "secret_already_exists";
    case errc::secret_not_found: return "secret_not_found";
    case errc::invalid_request: return "invalid_request";
    case errc::pull_through_rule_already_exists: return "pull_through_rule_already_exists";
    case errc::pull_through_rule_not_found: return "pull_through_rule_not_found";
    case errc::unsupported_upstream_registry: return "unsupported_upstream_registry";
    case errc::unable_to_access_secret: return "unable_to_access_secret";
    case errc::unable_to_decrypt_secret: return "unable_to_decrypt_secret";
    case errc::upstream_unavailable: return "upstream_unavailable";
    case errc::busy: return "busy";
    case errc::unavailable: return "unavailable";
  }
  return "internal";
}

}  // namespace berth
