#include "query_errors.hpp"

namespace berth::iam {

// Every errc is listed (no default): a new code does not compile until it has a Query answer.
query_error_kind query_error_for(errc code) {
  switch (code) {
    case errc::no_such_entity: return {"NoSuchEntity", 404};
    case errc::entity_already_exists: return {"EntityAlreadyExists", 409};
    case errc::delete_conflict: return {"DeleteConflict", 409};
    case errc::limit_exceeded: return {"LimitExceeded", 409};
    case errc::malformed_policy_document: return {"MalformedPolicyDocument", 400};
    case errc::invalid_parameter: return {"ValidationError", 400};
    case errc::denied:
    case errc::unauthorized:
    case errc::token_invalid:
    case errc::token_expired: return {"AccessDenied", 403};
    case errc::missing_authentication: return {"MissingAuthenticationToken", 403};
    case errc::unrecognized_client: return {"InvalidClientTokenId", 403};
    case errc::invalid_signature: return {"SignatureDoesNotMatch", 403};
    case errc::incomplete_signature: return {"IncompleteSignature", 400};
    case errc::unsupported_operation: return {"InvalidAction", 400};
    case errc::malformed_request: return {"MalformedQueryString", 400};
    case errc::too_many_requests:
    case errc::busy: return {"Throttling", 400};
    case errc::name_unknown:
    case errc::blob_unknown:
    case errc::blob_upload_invalid:
    case errc::blob_upload_unknown:
    case errc::upload_out_of_order:
    case errc::digest_invalid:
    case errc::manifest_blob_unknown:
    case errc::manifest_invalid:
    case errc::manifest_unknown:
    case errc::manifest_too_large:
    case errc::name_invalid:
    case errc::size_invalid:
    case errc::tag_invalid:
    case errc::range_invalid:
    case errc::pagination_number_invalid:
    case errc::unsupported:
    case errc::repository_already_exists:
    case errc::repository_not_empty:
    case errc::tag_immutable:
    case errc::image_already_exists:
    case errc::image_not_found:
    case errc::image_digest_mismatch:
    case errc::image_referenced_by_index:
    case errc::layers_not_found:
    case errc::referenced_images_not_found:
    case errc::layer_already_exists:
    case errc::layer_part_too_small:
    case errc::invalid_layer_part:
    case errc::invalid_layer:
    case errc::empty_upload:
    case errc::template_already_exists:
    case errc::template_not_found:
    case errc::invalid_tag_parameter:
    case errc::too_many_tags:
    case errc::lifecycle_policy_not_found:
    case errc::lifecycle_preview_not_found:
    case errc::lifecycle_preview_in_progress:
    case errc::repository_policy_not_found:
    case errc::registry_policy_not_found:
    case errc::exclusion_already_exists:
    case errc::exclusion_not_found:
    case errc::secret_already_exists:
    case errc::secret_not_found:
    case errc::invalid_request:
    case errc::pull_through_rule_already_exists:
    case errc::pull_through_rule_not_found:
    case errc::unsupported_upstream_registry:
    case errc::unable_to_access_secret:
    case errc::unable_to_decrypt_secret: return {"InvalidInput", 400};
    case errc::upstream_unavailable: return {"ServiceFailure", 500, false};
    case errc::internal:
    case errc::storage_full:
    case errc::unavailable: return {"ServiceFailure", 500, false};
  }
  return {"ServiceFailure", 500, false};
}

}  // namespace berth::iam
