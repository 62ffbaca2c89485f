// BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload,
// GetDownloadUrlForLayer: the layer API over the same upload sessions and blob store as V2.
#include "operations.hpp"

namespace berth::ecr {
namespace {

constexpr std::int64_t advertised_part_size = 10 * 1024 * 1024;
constexpr std::int64_t download_url_lifetime = 3600;

json upload_ids(const call_context& ctx, const std::string& repo, const std::string& id) {
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"uploadId", id}};
}

result<json> batch_check_layer_availability(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  json layers = json::array();
  json failures = json::array();
  for (const auto& l : in["layerDigests"]) {
    auto text = l.get<std::string>();
    auto d = digest::parse(text);
    if (!d) {
      failures.push_back(
          {{"layerDigest", text}, {"failureCode", "InvalidLayerDigest"}, {"failureReason", "Invalid layer digest"}});
      continue;
    }
    auto size = ctx.reg.blob_size(repo, *d);
    if (!size) {
      if (size.error_value().code != errc::blob_unknown) return size.take_error();
      failures.push_back({{"layerDigest", text},
                          {"failureCode", "MissingLayerDigest"},
                          {"failureReason", "Could not find layer with digest " + text}});
      continue;
    }
    layers.push_back({{"layerDigest", text}, {"layerAvailability", "AVAILABLE"}, {"layerSize", *size}});
  }
  return json{{"layers", layers}, {"failures", failures}};
}

result<json> initiate_layer_upload(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  auto s = ctx.reg.start_upload(repo);
  if (!s) return s.take_error();
  return json{{"uploadId", s->id}, {"partSize", advertised_part_size}};
}

result<json> upload_layer_part(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto id = str(in, "uploadId");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  auto first = in["partFirstByte"].get<std::int64_t>();
  auto last = in["partLastByte"].get<std::int64_t>();
  auto blob = auth::base64_decode(str(in, "layerPartBlob"));
  if (!blob)
    return invalid_parameter("Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'must be base64'");
  auto held =
      ctx.reg.upload_layer_part(repo, id, static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(last), *blob);
  if (!held) return held.take_error();
  auto out = upload_ids(ctx, repo, id);
  out["lastByteReceived"] = static_cast<std::int64_t>(*held) - 1;
  return out;
}

result<json> complete_layer_upload(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto id = str(in, "uploadId");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  auto text = in["layerDigests"][0].get<std::string>();
  auto d = digest::parse(text);
  if (!d) return make_error(errc::invalid_layer, "Invalid layer digest " + text);
  if (auto r = ctx.reg.complete_layer_upload(repo, id, *d); !r) return r.take_error();
  auto out = upload_ids(ctx, repo, id);
  out["layerDigest"] = text;
  return out;
}

result<json> get_download_url_for_layer(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  auto text = str(in, "layerDigest");
  auto d = digest::parse(text);
  auto not_found = make_error(errc::layers_not_found, "The layer with digest " + text +
                                                          " does not exist in the repository with name '" + repo + "'");
  if (!d) return not_found;
  if (!ctx.reg.blob_size(repo, *d)) return not_found;
  auto expires = ctx.now + download_url_lifetime;
  auto url = ctx.settings.scheme + "://" + ctx.host + "/v2/" + repo + "/blobs/" + d->str() +
             "?X-Berth-Expires=" + std::to_string(expires) +
             "&X-Berth-Signature=" + ctx.urls.signature(repo, d->str(), expires);
  return json{{"downloadUrl", url}, {"layerDigest", text}};
}

}  // namespace

void add_layer_operations(std::map<std::string, operation>& t) {
  t["BatchCheckLayerAvailability"] = batch_check_layer_availability;
  t["InitiateLayerUpload"] = initiate_layer_upload;
  t["UploadLayerPart"] = upload_layer_part;
  t["CompleteLayerUpload"] = complete_layer_upload;
  t["GetDownloadUrlForLayer"] = get_download_url_for_layer;
}

}  // namespace berth::ecr
