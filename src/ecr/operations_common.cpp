#include "operations.hpp"

namespace berth::ecr {

const std::map<std::string, operation>& operation_table() {
  static const auto table = [] {
    std::map<std::string, operation> t;
    add_repository_operations(t);
    add_image_operations(t);
    add_layer_operations(t);
    add_registry_operations(t);
    add_lifecycle_operations(t);
    add_policy_operations(t);
    add_pull_through_operations(t);
    add_replication_operations(t);
    return t;
  }();
  return table;
}

std::string str(const json& in, const char* key, const std::string& fallback) {
  auto it = in.find(key);
  return it != in.end() && it->is_string() ? it->get<std::string>() : fallback;
}

error invalid_parameter(const std::string& message) { return make_error(errc::invalid_parameter, message); }

std::string repository_arn(const call_context& ctx, const std::string& name) {
  return "arn:aws:ecr:" + ctx.settings.region + ":" + ctx.settings.account_id + ":repository/" + name;
}

json repository_json(const call_context& ctx, const repository_info& r) {
  json j = {{"repositoryArn", repository_arn(ctx, r.name)},
            {"registryId", ctx.settings.account_id},
            {"repositoryName", r.name},
            {"repositoryUri", ctx.host + "/" + r.name},
            {"createdAt", r.created_at},
            {"imageTagMutability", r.config.image_tag_mutability},
            {"imageScanningConfiguration", {{"scanOnPush", r.config.scan_on_push}}},
            {"encryptionConfiguration", {{"encryptionType", r.config.encryption_type}}}};
  if (!r.config.kms_key.empty()) j["encryptionConfiguration"]["kmsKey"] = r.config.kms_key;
  if (!r.config.exclusion_filters.empty()) {
    json filters = json::array();
    for (const auto& f : r.config.exclusion_filters) filters.push_back({{"filterType", "WILDCARD"}, {"filter", f}});
    j["imageTagMutabilityExclusionFilters"] = filters;
  }
  return j;
}

result<void> check_registry_id(const call_context& ctx, const json& in) {
  auto id = str(in, "registryId");
  if (!id.empty() && id != ctx.settings.account_id) {
    return invalid_parameter(
        "Invalid parameter at 'registryId' failed to satisfy constraint: 'must be the id of this "
        "registry (" +
        ctx.settings.account_id + ")'");
  }
  return {};
}

std::string next_token(const std::string& last_key) {
  return auth::base64_encode(json{{"after", last_key}}.dump(), true);
}

result<std::string> read_next_token(const json& in) {
  auto token = str(in, "nextToken");
  if (token.empty()) return std::string();
  auto decoded = auth::base64_decode(token);
  if (!decoded)
    return invalid_parameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
  auto j = json::parse(*decoded, nullptr, false);
  if (!j.is_object() || !j.contains("after") || !j["after"].is_string()) {
    return invalid_parameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'invalid token'");
  }
  return j["after"].get<std::string>();
}

image_filter filter_of(const json& in) {
  auto status = in.contains("filter") ? str(in["filter"], "tagStatus", "ANY") : std::string("ANY");
  if (status == "TAGGED") return image_filter::tagged;
  if (status == "UNTAGGED") return image_filter::untagged;
  return image_filter::any;
}

std::size_t page_size(const json& in, std::size_t fallback) {
  auto it = in.find("maxResults");
  return it != in.end() && it->is_number_integer() ? it->get<std::size_t>() : fallback;
}

}  // namespace berth::ecr
