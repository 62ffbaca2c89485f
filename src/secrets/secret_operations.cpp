#include "secret_operations.hpp"

#include "berth/auth/login_token.hpp"

namespace berth::secrets {
namespace {

error invalid(const std::string& message) { return make_error(errc::invalid_parameter, message); }
error wrong_type(const char* member) {
  return make_error(errc::malformed_request, std::string("Unexpected value type for ") + member);
}

// Members are checked for type at the edge; botocore validates the rest of the model client-side,
// the domain enforces what matters for the data.
result<std::string> text(const json& in, const char* member, bool required = false) {
  if (!in.contains(member) || in[member].is_null()) {
    if (required) return invalid(std::string("You must provide a value for ") + member + ".");
    return std::string();
  }
  if (!in[member].is_string()) return wrong_type(member);
  return in[member].get<std::string>();
}

result<std::optional<secret_value>> value_of(const json& in) {
  auto s = text(in, "SecretString");
  if (!s) return s.take_error();
  auto b = text(in, "SecretBinary");
  if (!b) return b.take_error();
  const bool has_string = in.contains("SecretString") && !in["SecretString"].is_null();
  const bool has_binary = in.contains("SecretBinary") && !in["SecretBinary"].is_null();
  if (has_string && has_binary) {
    return invalid("You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  if (has_string) return std::optional<secret_value>(secret_value{false, std::move(*s)});
  if (has_binary) {
    auto decoded = auth::base64_decode(*b);
    if (!decoded) return make_error(errc::malformed_request, "SecretBinary is not valid base64");
    return std::optional<secret_value>(secret_value{true, std::move(*decoded)});
  }
  return std::optional<secret_value>();
}

result<secret_tags> tags_of(const json& in) {
  secret_tags out;
  if (!in.contains("Tags") || in["Tags"].is_null()) return out;
  if (!in["Tags"].is_array()) return wrong_type("Tags");
  for (const auto& t : in["Tags"]) {
    if (!t.is_object()) return wrong_type("Tags");
    auto k = text(t, "Key");
    if (!k) return k.take_error();
    auto v = text(t, "Value");
    if (!v) return v.take_error();
    if (k->empty() || k->size() > 128 || v->size() > 256) {
      return invalid("Tag keys are 1 to 128 characters and values up to 256 characters.");
    }
    out.emplace_back(std::move(*k), std::move(*v));
  }
  if (out.size() > 50) return invalid("A secret can have at most 50 tags.");
  return out;
}

json tags_json(const secret_tags& tags) {
  json out = json::array();
  for (const auto& [k, v] : tags) out.push_back({{"Key", k}, {"Value", v}});
  return out;
}

json stages_map(const secret_info& s) {
  json out = json::object();
  for (const auto& [id, labels] : s.versions) out[id] = labels;
  return out;
}

// The members DescribeSecret and each ListSecrets entry share.
json describe_json(const secret_info& s, const char* versions_member) {
  json out = {{"ARN", s.arn}, {"Name", s.name}, {"LastChangedDate", s.changed_at}, {"CreatedDate", s.created_at}};
  if (!s.description.empty()) out["Description"] = s.description;
  if (!s.kms_key_id.empty()) out["KmsKeyId"] = s.kms_key_id;
  if (s.accessed_at != 0) out["LastAccessedDate"] = s.accessed_at;
  if (s.deletion_date != 0) out["DeletedDate"] = s.deletion_date;
  if (!s.tags.empty()) out["Tags"] = tags_json(s.tags);
  out[versions_member] = stages_map(s);
  return out;
}

result<json> create_secret(secret_vault& vault, const json& in) {
  new_secret s;
  auto name = text(in, "Name", true);
  if (!name) return name.take_error();
  s.name = std::move(*name);
  auto description = text(in, "Description");
  if (!description) return description.take_error();
  s.description = std::move(*description);
  auto kms = text(in, "KmsKeyId");
  if (!kms) return kms.take_error();
  s.kms_key_id = std::move(*kms);
  auto token = text(in, "ClientRequestToken");
  if (!token) return token.take_error();
  s.client_request_token = std::move(*token);
  auto tags = tags_of(in);
  if (!tags) return tags.take_error();
  s.tags = std::move(*tags);
  auto value = value_of(in);
  if (!value) return value.take_error();
  s.value = std::move(*value);
  auto created = vault.create(s);
  if (!created) return created.take_error();
  json out = {{"ARN", created->arn}, {"Name", created->name}};
  if (!created->versions.empty()) out["VersionId"] = created->versions.front().first;
  return out;
}

result<json> get_secret_value(secret_vault& vault, const json& in) {
  auto id = text(in, "SecretId", true);
  if (!id) return id.take_error();
  auto version = text(in, "VersionId");
  if (!version) return version.take_error();
  auto stage = text(in, "VersionStage");
  if (!stage) return stage.take_error();
  auto v = vault.value(*id, *version, *stage);
  if (!v) return v.take_error();
  json out = {{"ARN", v->arn},
              {"Name", v->name},
              {"VersionId", v->version_id},
              {"VersionStages", v->stages},
              {"CreatedDate", v->created_at}};
  if (v->value.binary) {
    out["SecretBinary"] = auth::base64_encode(v->value.bytes);
  } else {
    out["SecretString"] = v->value.bytes;
  }
  return out;
}

result<json> put_secret_value(secret_vault& vault, const json& in) {
  auto id = text(in, "SecretId", true);
  if (!id) return id.take_error();
  auto token = text(in, "ClientRequestToken");
  if (!token) return token.take_error();
  auto value = value_of(in);
  if (!value) return value.take_error();
  if (!*value) return invalid("You must provide either SecretString or SecretBinary.");
  std::vector<std::string> stages;
  if (in.contains("VersionStages") && !in["VersionStages"].is_null()) {
    if (!in["VersionStages"].is_array()) return wrong_type("VersionStages");
    for (const auto& s : in["VersionStages"]) {
      if (!s.is_string()) return wrong_type("VersionStages");
      if (s.get<std::string>().empty() || s.get<std::string>().size() > 256) {
        return invalid("A staging label is 1 to 256 characters.");
      }
      stages.push_back(s.get<std::string>());
    }
    if (stages.empty() || stages.size() > 20) return invalid("VersionStages has 1 to 20 labels.");
  }
  auto v = vault.put_value(*id, *token, **value, std::move(stages));
  if (!v) return v.take_error();
  return json{{"ARN", v->arn}, {"Name", v->name}, {"VersionId", v->version_id}, {"VersionStages", v->stages}};
}

result<json> describe_secret(secret_vault& vault, const json& in) {
  auto id = text(in, "SecretId", true);
  if (!id) return id.take_error();
  auto s = vault.describe(*id);
  if (!s) return s.take_error();
  return describe_json(*s, "VersionIdsToStages");
}

result<json> list_secrets(secret_vault& vault, const json& in) {
  std::size_t limit = 100;
  if (in.contains("MaxResults") && !in["MaxResults"].is_null()) {
    if (!in["MaxResults"].is_number_integer()) return wrong_type("MaxResults");
    const auto n = in["MaxResults"].get<std::int64_t>();
    if (n < 1 || n > 100) return invalid("MaxResults must be between 1 and 100.");
    limit = static_cast<std::size_t>(n);
  }
  std::string after;
  auto token = text(in, "NextToken");
  if (!token) return token.take_error();
  if (!token->empty()) {
    auto decoded = auth::base64_decode(*token);
    if (!decoded) return invalid("Invalid NextToken.");
    after = std::move(*decoded);
  }
  bool include_deleted = false;
  if (in.contains("IncludePlannedDeletion") && !in["IncludePlannedDeletion"].is_null()) {
    if (!in["IncludePlannedDeletion"].is_boolean()) return wrong_type("IncludePlannedDeletion");
    include_deleted = in["IncludePlannedDeletion"].get<bool>();
  }
  std::vector<secret_filter> filters;
  if (in.contains("Filters") && !in["Filters"].is_null()) {
    if (!in["Filters"].is_array()) return wrong_type("Filters");
    for (const auto& f : in["Filters"]) {
      if (!f.is_object()) return wrong_type("Filters");
      auto key = text(f, "Key");
      if (!key) return key.take_error();
      static const std::vector<std::string> keys{"description",    "name",           "tag-key", "tag-value",
                                                 "primary-region", "owning-service", "all"};
      if (std::find(keys.begin(), keys.end(), *key) == keys.end()) {
        return invalid("Invalid filter key: " + *key + ".");
      }
      secret_filter sf{*key, {}};
      if (f.contains("Values")) {
        if (!f["Values"].is_array()) return wrong_type("Values");
        for (const auto& v : f["Values"]) {
          if (!v.is_string()) return wrong_type("Values");
          sf.values.push_back(v.get<std::string>());
        }
      }
      if (sf.values.empty() || sf.values.size() > 10) return invalid("A filter has 1 to 10 values.");
      filters.push_back(std::move(sf));
    }
  }
  auto page = vault.list(filters, include_deleted, after, limit);
  if (!page) return page.take_error();
  json list = json::array();
  for (const auto& s : page->items) list.push_back(describe_json(s, "SecretVersionsToStages"));
  json out = {{"SecretList", std::move(list)}};
  if (!page->next.empty()) out["NextToken"] = auth::base64_encode(page->next);
  return out;
}

result<json> delete_secret(secret_vault& vault, const json& in) {
  auto id = text(in, "SecretId", true);
  if (!id) return id.take_error();
  std::optional<int> days;
  if (in.contains("RecoveryWindowInDays") && !in["RecoveryWindowInDays"].is_null()) {
    if (!in["RecoveryWindowInDays"].is_number_integer()) return wrong_type("RecoveryWindowInDays");
    const auto n = in["RecoveryWindowInDays"].get<std::int64_t>();
    days = static_cast<int>(std::clamp<std::int64_t>(n, -1, 1000));
  }
  bool force = false;
  if (in.contains("ForceDeleteWithoutRecovery") && !in["ForceDeleteWithoutRecovery"].is_null()) {
    if (!in["ForceDeleteWithoutRecovery"].is_boolean()) return wrong_type("ForceDeleteWithoutRecovery");
    force = in["ForceDeleteWithoutRecovery"].get<bool>();
  }
  auto s = vault.remove(*id, days, force);
  if (!s) return s.take_error();
  return json{{"ARN", s->arn}, {"Name", s->name}, {"DeletionDate", s->deletion_date}};
}

}  // namespace

const std::map<std::string, operation>& operation_table() {
  static const std::map<std::string, operation> table{
      {"CreateSecret", create_secret},     {"GetSecretValue", get_secret_value}, {"PutSecretValue", put_secret_value},
      {"DescribeSecret", describe_secret}, {"ListSecrets", list_secrets},        {"DeleteSecret", delete_secret},
  };
  return table;
}

}  // namespace berth::secrets
