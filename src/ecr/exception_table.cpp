#include "exception_table.hpp"

namespace berth::ecr {
namespace {

constexpr exception_kind client(std::string_view type) { return {type, 400}; }
constexpr exception_kind server() { return {"ServerException", 500}; }

}  // namespace

// Every errc is listed (no default): a new code does not compile until it has an ECR answer.
exception_kind exception_for(errc code) {
  switch (code) {
    case errc::name_unknown: return client("RepositoryNotFoundException");
    case errc::repository_already_exists: return client("RepositoryAlreadyExistsException");
    case errc::repository_not_empty: return client("RepositoryNotEmptyException");
    case errc::tag_immutable: return client("ImageTagAlreadyExistsException");
    case errc::image_already_exists: return client("ImageAlreadyExistsException");
    case errc::image_not_found:
    case errc::manifest_unknown: return client("ImageNotFoundException");
    case errc::image_digest_mismatch: return client("ImageDigestDoesNotMatchException");
    case errc::manifest_blob_unknown:
    case errc::layers_not_found:
    case errc::blob_unknown: return client("LayersNotFoundException");
    case errc::referenced_images_not_found: return client("ReferencedImagesNotFoundException");
    case errc::image_referenced_by_index: return client("InvalidParameterException");
    case errc::layer_already_exists: return client("LayerAlreadyExistsException");
    case errc::layer_part_too_small: return client("LayerPartTooSmallException");
    case errc::invalid_layer_part:
    case errc::upload_out_of_order: return client("InvalidLayerPartException");
    case errc::invalid_layer: return client("InvalidLayerException");
    case errc::empty_upload: return client("EmptyUploadException");
    case errc::blob_upload_unknown: return client("UploadNotFoundException");
    case errc::template_already_exists: return client("TemplateAlreadyExistsException");
    case errc::template_not_found: return client("TemplateNotFoundException");
    case errc::invalid_tag_parameter: return client("InvalidTagParameterException");
    case errc::too_many_tags: return client("TooManyTagsException");
    case errc::limit_exceeded: return client("LimitExceededException");
    case errc::too_many_requests:
    case errc::busy: return client("ThrottlingException");
    case errc::unsupported_operation: return client("UnsupportedOperationException");
    case errc::malformed_request: return client("SerializationException");
    case errc::lifecycle_policy_not_found: return client("LifecyclePolicyNotFoundException");
    case errc::lifecycle_preview_not_found: return client("LifecyclePolicyPreviewNotFoundException");
    case errc::lifecycle_preview_in_progress: return client("LifecyclePolicyPreviewInProgressException");
    case errc::malformed_policy_document: return client("InvalidParameterException");
    case errc::entity_already_exists: return client("InvalidParameterException");
    case errc::no_such_entity: return client("InvalidParameterException");
    case errc::delete_conflict: return client("InvalidParameterException");
    case errc::repository_policy_not_found: return client("RepositoryPolicyNotFoundException");
    case errc::registry_policy_not_found: return client("RegistryPolicyNotFoundException");
    case errc::exclusion_already_exists: return client("ExclusionAlreadyExistsException");
    case errc::exclusion_not_found: return client("ExclusionNotFoundException");
    case errc::pull_through_rule_already_exists: return client("PullThroughCacheRuleAlreadyExistsException");
    case errc::pull_through_rule_not_found: return client("PullThroughCacheRuleNotFoundException");
    case errc::unsupported_upstream_registry: return client("UnsupportedUpstreamRegistryException");
    case errc::secret_not_found: return client("SecretNotFoundException");
    case errc::unable_to_access_secret: return client("UnableToAccessSecretException");
    case errc::unable_to_decrypt_secret: return client("UnableToDecryptSecretValueException");
    case errc::upstream_unavailable: return client("UnableToGetUpstreamImageException");
    case errc::secret_already_exists:
    case errc::invalid_request: return client("InvalidParameterException");
    case errc::missing_authentication: return client("MissingAuthenticationTokenException");
    case errc::unrecognized_client: return client("UnrecognizedClientException");
    case errc::invalid_signature: return client("InvalidSignatureException");
    case errc::incomplete_signature: return client("IncompleteSignatureException");
    case errc::token_invalid:
    case errc::token_expired:
    case errc::denied:
    case errc::unauthorized: return client("AccessDeniedException");
    case errc::blob_upload_invalid:
    case errc::digest_invalid:
    case errc::manifest_invalid:
    case errc::manifest_too_large:
    case errc::name_invalid:
    case errc::size_invalid:
    case errc::tag_invalid:
    case errc::range_invalid:
    case errc::pagination_number_invalid:
    case errc::unsupported:
    case errc::invalid_parameter: return client("InvalidParameterException");
    case errc::internal:
    case errc::storage_full:
    case errc::unavailable: return server();
  }
  return server();
}

}  // namespace berth::ecr
