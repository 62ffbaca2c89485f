// Errors as values: what went wrong in registry terms, with a typed payload. Each API adapter maps
// every errc to its wire error explicitly (oci/wire_error.cpp, ecr/exception_table.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace berth {

enum class errc {
  blob_unknown,
  blob_upload_invalid,
  blob_upload_unknown,
  upload_out_of_order,  // a chunk that does not start where the upload ends
  digest_invalid,
  manifest_blob_unknown,
  manifest_invalid,
  manifest_unknown,
  manifest_too_large,
  name_invalid,
  name_unknown,
  size_invalid,
  tag_invalid,
  range_invalid,
  pagination_number_invalid,
  unsupported,
  too_many_requests,
  unauthorized,
  denied,
  storage_full,
  internal,
  // Authentication.
  missing_authentication,  // no credentials at all
  unrecognized_client,     // unknown access key
  invalid_signature,       // wrong signature, scope or clock skew
  incomplete_signature,    // malformed Authorization header
  token_invalid,           // forged or malformed login token, or a deleted principal
  token_expired,
  // Repositories, images and the ECR layer API.
  repository_already_exists,
  repository_not_empty,
  tag_immutable,
  image_already_exists,
  image_not_found,
  image_digest_mismatch,
  image_referenced_by_index,
  layers_not_found,
  referenced_images_not_found,
  layer_already_exists,
  layer_part_too_small,
  invalid_layer_part,
  invalid_layer,
  empty_upload,
  template_already_exists,
  template_not_found,
  invalid_parameter,
  invalid_tag_parameter,
  too_many_tags,
  limit_exceeded,
  unsupported_operation,
  malformed_request,  // a JSON API body that is not JSON or has values of the wrong type
  lifecycle_policy_not_found,
  lifecycle_preview_not_found,
  lifecycle_preview_in_progress,
  // Policies: an IAM policy document IAM would refuse (the message is IAM's).
  malformed_policy_document,
  // Identities (IAM): the messages are IAM's.
  entity_already_exists,
  no_such_entity,
  delete_conflict,
  repository_policy_not_found,
  registry_policy_not_found,
  exclusion_already_exists,  // pull-time update exclusions
  exclusion_not_found,
  // Secrets (the Secrets Manager API) and the pull-through cache rules that read them.
  secret_already_exists,
  secret_not_found,
  invalid_request,  // the resource's state does not allow the call (a secret scheduled for deletion)
  pull_through_rule_already_exists,
  pull_through_rule_not_found,
  unsupported_upstream_registry,
  unable_to_access_secret,   // the secret exists but cannot be used (wrong shape, deleted)
  unable_to_decrypt_secret,  // the secret's value does not open with this registry's key
  upstream_unavailable,      // an upstream registry cannot be reached or answered with an error
  // Backends: a step that lost a race with garbage collection of the same blob; the domain retries.
  busy,
  unavailable,  // a backend (database, object store) cannot be reached right now
};

const char* to_string(errc code);

// What an error is about, when a client needs more than the message.
struct digest_detail {
  std::string digest;  // the blob or manifest the error names
  friend bool operator==(const digest_detail&, const digest_detail&) = default;
};
struct upload_detail {
  std::string repository;
  std::string upload_id;
  std::uint64_t size = 0;  // the bytes the upload session really holds: the client continues from here
  friend bool operator==(const upload_detail&, const upload_detail&) = default;
};
struct tag_detail {
  std::string tag;
  friend bool operator==(const tag_detail&, const tag_detail&) = default;
};
using error_detail = std::variant<std::monostate, digest_detail, upload_detail, tag_detail>;

struct error {
  errc code = errc::internal;
  std::string message;
  error_detail detail;
};

inline error make_error(errc code, std::string message = {}, error_detail detail = {}) {
  return error{code, std::move(message), std::move(detail)};
}

// A value or an error; errors are values at every boundary.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(error e) : v_(std::move(e)) {}      // NOLINT(google-explicit-constructor)
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& error_value() const { return std::get<1>(v_); }
  error&& take_error() { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : e_(std::move(e)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const error& error_value() const { return e_; }
  error&& take_error() { return std::move(e_); }

 private:
  error e_;
  bool ok_ = true;
};

}  // namespace berth
