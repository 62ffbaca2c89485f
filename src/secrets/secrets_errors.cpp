#include "secrets_errors.hpp"

namespace berth::secrets {

// Every errc is listed (no default): a new code does not compile until it has an answer here.
// Secrets Manager answers every client error with 400, not-found included. Codes no operation of
// this API produces are an InvalidRequestException; a lost race (busy) is a retried 500.
secrets_exception exception_for(errc code) {
  switch (code) {
    case errc::name_invalid: return {"ValidationException", 400};
    case errc::blob_unknown:
    case errc::blob_upload_invalid:
    case errc::blob_upload_unknown:
    case errc::upload_out_of_order:
    case errc::digest_invalid:
    case errc::manifest_blob_unknown:
    case errc::manifest_invalid:
    case errc::manifest_unknown:
    case errc::manifest_too_large:
    case errc::name_unknown:
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
    case errc::unsupported_operation:
    case errc::lifecycle_policy_not_found:
    case errc::lifecycle_preview_not_found:
    case errc::lifecycle_preview_in_progress:
    case errc::entity_already_exists:
    case errc::no_such_entity:
    case errc::delete_conflict:
    case errc::repository_policy_not_found:
    case errc::registry_policy_not_found:
    case errc::exclusion_already_exists:
    case errc::exclusion_not_found:
    case errc::invalid_request:
    case errc::pull_through_rule_already_exists:
    case errc::pull_through_rule_not_found:
    case errc::unsupported_upstream_registry:
    case errc::unable_to_access_secret: return {"InvalidRequestException", 400};
    case errc::too_many_requests:
    case errc::too_many_tags:
    case errc::limit_exceeded: return {"LimitExceededException", 400};
    case errc::unauthorized:
    case errc::denied: return {"AccessDeniedException", 400};
    case errc::missing_authentication: return {"MissingAuthenticationTokenException", 400};
    case errc::unrecognized_client:
    case errc::token_invalid: return {"UnrecognizedClientException", 400};
    case errc::invalid_signature: return {"InvalidSignatureException", 400};
    case errc::incomplete_signature: return {"IncompleteSignatureException", 400};
    case errc::token_expired: return {"ExpiredTokenException", 400};
    case errc::invalid_parameter:
    case errc::invalid_tag_parameter: return {"InvalidParameterException", 400};
    case errc::malformed_request: return {"SerializationException", 400};
    case errc::malformed_policy_document: return {"MalformedPolicyDocumentException", 400};
    case errc::secret_already_exists: return {"ResourceExistsException", 400};
    case errc::secret_not_found: return {"ResourceNotFoundException", 400};
    case errc::unable_to_decrypt_secret: return {"DecryptionFailure", 400};
    case errc::storage_full:
    case errc::internal:
    case errc::upstream_unavailable:
    case errc::busy:
    case errc::unavailable: return {"InternalServiceError", 500};
  }
  return {"InternalServiceError", 500};
}

}  // namespace berth::secrets
