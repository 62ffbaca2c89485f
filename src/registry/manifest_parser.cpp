#include <nlohmann/json.hpp>

#include "berth/core/json_depth.hpp"
#include "berth/registry/manifest.hpp"

namespace berth {
namespace {

using json = nlohmann::json;

error invalid(std::string message) { return make_error(errc::manifest_invalid, std::move(message)); }

// OCI annotations map strings to strings.
result<void> check_annotations(const json& an, std::string_view where) {
  if (!an.is_object()) return invalid(std::string(where) + ": annotations must be an object");
  for (const auto& [k, v] : an.items()) {
    if (!v.is_string()) return invalid(std::string(where) + ": annotation '" + k + "' must be a string");
  }
  return {};
}

result<descriptor> parse_descriptor(const json& j, std::string_view where) {
  if (!j.is_object()) return invalid(std::string(where) + ": descriptor must be an object");
  descriptor d;
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string()) return invalid(std::string(where) + ": mediaType must be a string");
  d.media_type = mt->get<std::string>();
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return invalid(std::string(where) + ": digest must be a string");
  auto parsed = digest::parse(dg->get_ref<const std::string&>());
  if (!parsed) return invalid(std::string(where) + ": " + parsed.error_value().message);
  d.dgst = std::move(parsed).value();
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0) {
    return invalid(std::string(where) + ": size must be a non-negative integer");
  }
  d.size = sz->get<std::int64_t>();
  if (auto at = j.find("artifactType"); at != j.end()) {
    if (!at->is_string()) return invalid(std::string(where) + ": artifactType must be a string");
    d.artifact_type = at->get<std::string>();
  }
  if (auto an = j.find("annotations"); an != j.end() && !an->is_null()) {
    if (auto r = check_annotations(*an, where); !r) return r.take_error();
    d.annotations_json = an->dump();
  }
  if (auto urls = j.find("urls"); urls != j.end() && !urls->is_null()) {
    if (!urls->is_array()) return invalid(std::string(where) + ": urls must be an array");
    d.has_urls = !urls->empty();
  }
  return d;
}

result<std::vector<descriptor>> parse_descriptor_list(const json& doc, const char* key, bool required) {
  std::vector<descriptor> out;
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    if (required) return invalid(std::string(key) + " is required");
    return out;
  }
  if (!it->is_array()) return invalid(std::string(key) + " must be an array");
  out.reserve(it->size());
  std::size_t i = 0;
  for (const auto& e : *it) {
    auto d = parse_descriptor(e, std::string(key) + "[" + std::to_string(i++) + "]");
    if (!d) return d.take_error();
    out.push_back(std::move(d).value());
  }
  return out;
}

}  // namespace

std::string_view bare_media_type(std::string_view content_type) {
  if (auto semi = content_type.find(';'); semi != std::string_view::npos) content_type = content_type.substr(0, semi);
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  while (!content_type.empty() && content_type.front() == ' ') content_type.remove_prefix(1);
  return content_type;
}

bool is_manifest_media_type(std::string_view type) {
  return type == media_type::oci_manifest || type == media_type::oci_index || type == media_type::docker_manifest ||
         type == media_type::docker_manifest_list;
}

result<parsed_manifest> parse_manifest(std::string_view bytes, std::string_view content_type) {
  if (bytes.size() > max_manifest_size) return make_error(errc::manifest_too_large, "manifest too large");
  auto declared = std::string(bare_media_type(content_type));
  if (declared == media_type::docker_schema1 || declared == media_type::docker_schema1_signed) {
    return invalid("schema1 manifests are not supported");
  }
  if (!json_depth_within(bytes)) return invalid("manifest is nested too deeply");
  json doc = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (doc.is_discarded()) return invalid("manifest is not valid JSON");
  if (!doc.is_object()) return invalid("manifest must be a JSON object");

  std::string inner;
  if (auto mt = doc.find("mediaType"); mt != doc.end() && !mt->is_null()) {
    if (!mt->is_string()) return invalid("mediaType must be a string");
    inner = mt->get<std::string>();
  }
  auto sv = doc.find("schemaVersion");
  if (sv != doc.end() && sv->is_number_integer() && sv->get<std::int64_t>() == 1) {
    return invalid("schema1 manifests are not supported");
  }
  if (inner == media_type::docker_schema1 || inner == media_type::docker_schema1_signed) {
    return invalid("schema1 manifests are not supported");
  }
  // Generic types say nothing; the document decides.
  if (declared == "application/json" || declared == "application/octet-stream") declared.clear();

  std::string type = declared;
  if (type.empty()) type = inner;
  if (type.empty()) type = std::string(doc.contains("manifests") ? media_type::oci_index : media_type::oci_manifest);
  if (!inner.empty() && inner != type) return invalid("mediaType in manifest does not match Content-Type");
  if (!is_manifest_media_type(type)) return invalid("unsupported manifest media type: " + type);

  if (sv == doc.end() || !sv->is_number_integer() || sv->get<std::int64_t>() != 2) {
    return invalid("schemaVersion must be 2");
  }

  parsed_manifest m;
  m.media_type = type;
  bool index = type == media_type::oci_index || type == media_type::docker_manifest_list;
  m.kind = index ? manifest_kind::index : manifest_kind::image;
  if (index) {
    auto ms = parse_descriptor_list(doc, "manifests", true);
    if (!ms) return ms.take_error();
    m.manifests = std::move(ms).value();
  } else {
    auto cfg = doc.find("config");
    if (cfg == doc.end()) return invalid("config is required");
    auto c = parse_descriptor(*cfg, "config");
    if (!c) return c.take_error();
    m.config = std::move(c).value();
    auto ls = parse_descriptor_list(doc, "layers", type == media_type::docker_manifest);
    if (!ls) return ls.take_error();
    m.layers = std::move(ls).value();
  }
  if (auto sub = doc.find("subject"); sub != doc.end() && !sub->is_null()) {
    auto s = parse_descriptor(*sub, "subject");
    if (!s) return s.take_error();
    m.subject = std::move(s).value();
  }
  if (auto at = doc.find("artifactType"); at != doc.end() && !at->is_null()) {
    if (!at->is_string()) return invalid("artifactType must be a string");
    m.artifact_type = at->get<std::string>();
  } else if (m.config) {
    m.artifact_type = m.config->media_type;
  }
  if (auto an = doc.find("annotations"); an != doc.end() && !an->is_null()) {
    if (auto r = check_annotations(*an, "manifest"); !r) return r.take_error();
    m.annotations_json = an->dump();
  }
  return m;
}

}  // namespace berth
