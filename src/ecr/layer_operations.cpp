// BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload,
// GetDownloadUrlForLayer: the layer API over the same upload sessions and blob store as V2.
#include "operations.hpp"

namespace berth::ecr {
namespace {

constexpr std::int64_t min_part_size = 5 * 1024 * 1024;
constexpr std::int64_t advertised_part_size = 10 * 1024 * 1024;
constexpr std::int64_t download_url_lifetime = 3600;

json upload_ids(const call_context& ctx, const std::string& repo, const std::string& id) {
  return json{{"registryId", ctx.settings.account_id}, {"repositoryName", repo}, {"uploadId", id}};
}

error upload_not_found(const call_context& ctx, const std::string& repo, const std::string& id) {
  return make_error(errc::blob_upload_unknown, "The upload with id '" + id +
                                                   "' does not exist in the repository with name '" + repo +
                                                   "' in the registry with id '" + ctx.settings.account_id + "'");
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
      failures.push_back({{"layerDigest", text}, {"failureCode", "InvalidLayerDigest"},
                          {"failureReason", "Invalid layer digest"}});
      continue;
    }
    auto size = ctx.reg.blob_size(repo, *d);
    if (!size) {
      if (size.error_value().code != errc::blob_unknown) return size.take_error();
      failures.push_back({{"layerDigest", text}, {"failureCode", "MissingLayerDigest"},
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
  if (!blob) return invalid_parameter("Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'must be base64'");
  auto part_error = [&](std::int64_t last_valid, const std::string& why) {
    return make_error(errc::invalid_layer_part, why, upload_detail{repo, id, static_cast<std::uint64_t>(last_valid + 1)});
  };
  auto status = ctx.reg.get_upload(repo, id);
  if (!status) return upload_not_found(ctx, repo, id);
  const auto received = static_cast<std::int64_t>(status->size);
  if (last < first || last - first + 1 != static_cast<std::int64_t>(blob->size())) {
    return part_error(received - 1, "The part's byte range does not match the length of layerPartBlob");
  }
  auto writer = ctx.reg.resume_upload(repo, id, byte_range{static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(last)});
  if (!writer) {
    if (writer.error_value().code == errc::upload_out_of_order) {
      return part_error(received - 1, "The part does not start at the next byte of the upload (" +
                                          std::to_string(received) + ")");
    }
    if (writer.error_value().code == errc::blob_upload_unknown) return upload_not_found(ctx, repo, id);
    return writer.take_error();
  }
  if (auto r = (*writer)->write(blob->data(), blob->size()); !r) return r.take_error();
  if (auto r = (*writer)->flush(); !r) return r.take_error();
  auto end = static_cast<std::int64_t>((*writer)->size()) - 1;
  writer->reset();
  if (auto r = ctx.reg.meta().record_upload_part(id, static_cast<std::int64_t>(blob->size()), min_part_size); !r) {
    return r.take_error();
  }
  auto out = upload_ids(ctx, repo, id);
  out["lastByteReceived"] = end;
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
  auto status = ctx.reg.get_upload(repo, id);
  if (!status) return upload_not_found(ctx, repo, id);
  if (status->size == 0) {
    return make_error(errc::empty_upload, "The upload with id '" + id + "' does not contain any layer parts");
  }
  auto small = ctx.reg.meta().upload_has_small_part(id);
  if (!small) return upload_not_found(ctx, repo, id);
  if (*small) {
    return make_error(errc::layer_part_too_small, "Layer parts must be at least 5 MiB in size, except the last part");
  }
  if (ctx.reg.blob_size(repo, *d)) {
    (void)ctx.reg.cancel_upload(repo, id);
    return make_error(errc::layer_already_exists, "The layer with digest " + text +
                                                      " already exists in the repository with name '" + repo + "'");
  }
  auto writer = ctx.reg.resume_upload(repo, id, std::nullopt, d->algorithm());
  if (!writer) return writer.take_error();
  if (auto r = ctx.reg.complete_upload(std::move(*writer), *d); !r) {
    if (r.error_value().code == errc::digest_invalid) {
      return make_error(errc::invalid_layer, "The calculated digest of the upload does not match " + text);
    }
    return r.take_error();
  }
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
