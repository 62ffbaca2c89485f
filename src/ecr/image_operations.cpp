// ListImages, ListImageReferrers, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage.
#include <algorithm>

#include "operations.hpp"

namespace berth::ecr {
namespace {

json image_id_json(const std::string& digest, const std::string& tag) {
  json id = json::object();
  if (!digest.empty()) id["imageDigest"] = digest;
  if (!tag.empty()) id["imageTag"] = tag;
  return id;
}

json failure(const json& id, const char* code, const std::string& reason) {
  return json{{"imageId", id}, {"failureCode", code}, {"failureReason", reason}};
}

json image_detail(const call_context& ctx, const std::string& repo, const image_info& img) {
  json d = {{"registryId", ctx.settings.account_id},
            {"repositoryName", repo},
            {"imageDigest", img.digest},
            {"imageSizeInBytes", img.image_size},
            {"imagePushedAt", img.pushed_at},
            {"imageManifestMediaType", img.media_type},
            {"imageStatus", img.archived ? "ARCHIVED" : "ACTIVE"}};
  if (img.last_archived_at > 0) d["lastArchivedAt"] = img.last_archived_at;
  if (img.last_activated_at > 0) d["lastActivatedAt"] = img.last_activated_at;
  if (!img.tags.empty()) d["imageTags"] = img.tags;
  if (!img.config_media_type.empty()) d["artifactMediaType"] = img.config_media_type;
  if (img.last_pulled_at > 0) d["lastRecordedPullTime"] = img.last_pulled_at;
  if (!img.subject.empty()) d["subjectManifestDigest"] = img.subject;
  return d;
}

result<json> list_images(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  auto after = read_next_token(in);
  if (!after) return after.take_error();
  // One entry per digest+tag pair; untagged images as the digest alone.
  auto page = ctx.reg.image_ids(repo, filter_of(in), *after, page_size(in, 100));
  if (!page) return page.take_error();
  json ids = json::array();
  for (const auto& id : page->items) ids.push_back(image_id_json(id.digest, id.tag));
  json out = {{"imageIds", ids}};
  if (!page->next.empty()) out["nextToken"] = next_token(page->next);
  return out;
}

// The referrers index, as ECR lists it: by digest, ACTIVE ones unless the filter asks for others,
// artifactTypes narrowing; an unknown subject has none (the operation has no ImageNotFound).
result<json> list_image_referrers(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  const auto repo = str(in, "repositoryName");
  auto subject = digest::parse(str(in["subjectId"], "imageDigest"));
  if (!subject) {
    return invalid_parameter(
        "Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'Invalid "
        "image digest'");
  }
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  std::string status = "ACTIVE";
  std::vector<std::string> types;
  if (auto f = in.find("filter"); f != in.end() && f->is_object()) {
    status = str(*f, "artifactStatus", "ACTIVE");
    if (auto t = f->find("artifactTypes"); t != f->end() && t->is_array()) {
      for (const auto& x : *t) types.push_back(x.get<std::string>());
    }
  }
  auto referrers = ctx.reg.referrers(repo, *subject);
  if (!referrers) return referrers.take_error();
  std::sort(referrers->begin(), referrers->end(), [](const auto& a, const auto& b) { return a.digest < b.digest; });
  std::vector<std::pair<referrer_info, bool>> kept;  // (referrer, archived)
  for (auto& r : *referrers) {
    if (!types.empty() && std::find(types.begin(), types.end(), r.artifact_type) == types.end()) continue;
    auto img = ctx.reg.find_image(repo, r.digest, "");
    if (!img) return img.take_error();
    const bool archived = *img && (*img)->archived;
    if (status != "ANY" && status != (archived ? "ARCHIVED" : "ACTIVE")) continue;
    kept.emplace_back(std::move(r), archived);
  }
  json items = json::array();
  auto next = fill_page(
      in, 20, kept, [](const auto& k) { return k.first.digest; },
      [&](const auto& k) {
        json j = {{"digest", k.first.digest},
                  {"mediaType", k.first.media_type},
                  {"size", k.first.size},
                  {"artifactStatus", k.second ? "ARCHIVED" : "ACTIVE"}};
        if (!k.first.artifact_type.empty()) j["artifactType"] = k.first.artifact_type;
        if (!k.first.annotations.empty()) {
          auto a = json::parse(k.first.annotations, nullptr, false);
          if (a.is_object()) j["annotations"] = std::move(a);
        }
        items.push_back(std::move(j));
      });
  if (!next) return next.take_error();
  json out = {{"referrers", std::move(items)}};
  if (!next->empty()) out["nextToken"] = *next;
  return out;
}

result<json> describe_images(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  json details = json::array();
  if (auto ids = in.find("imageIds"); ids != in.end() && ids->is_array()) {
    if (auto r = ctx.repos.get(repo); !r) return r.take_error();
    if (in.contains("maxResults") || in.contains("nextToken")) {
      return invalid_parameter(
          "Invalid parameter at 'maxResults' failed to satisfy constraint: 'cannot be used with "
          "imageIds'");
    }
    for (const auto& id : *ids) {
      auto img = ctx.reg.find_image(repo, str(id, "imageDigest"), str(id, "imageTag"));
      if (!img) return img.take_error();
      if (!*img) {
        return make_error(errc::image_not_found,
                          "The image with imageId {imageDigest:'" + str(id, "imageDigest", "null") + "', imageTag:'" +
                              str(id, "imageTag", "null") + "'} does not exist within the repository with name '" +
                              repo + "' in the registry with id '" + ctx.settings.account_id + "'");
      }
      details.push_back(image_detail(ctx, repo, **img));
    }
    return json{{"imageDetails", details}};
  }
  auto after = read_next_token(in);
  if (!after) return after.take_error();
  auto page = ctx.reg.images(repo, filter_of(in), *after, page_size(in, 100));
  if (!page) return page.take_error();
  for (const auto& img : page->items) details.push_back(image_detail(ctx, repo, img));
  json out = {{"imageDetails", details}};
  if (!page->next.empty()) out["nextToken"] = next_token(page->next);
  return out;
}

result<json> batch_get_image(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  std::vector<std::string> accepted;
  if (auto a = in.find("acceptedMediaTypes"); a != in.end() && a->is_array()) {
    for (const auto& t : *a) accepted.push_back(t.get<std::string>());
  }
  json found = json::array();
  json failures = json::array();
  bool repository_seen = false;  // every lookup also answers "does the repository exist"
  for (const auto& id : in["imageIds"]) {
    auto digest = str(id, "imageDigest");
    auto tag = str(id, "imageTag");
    if (digest.empty() && tag.empty()) {
      failures.push_back(
          failure(id, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null"));
      continue;
    }
    auto m = ctx.reg.find_manifest(repo, digest, tag);
    if (!m) return m.take_error();
    repository_seen = true;
    if (!*m) {
      failures.push_back(failure(id, "ImageNotFound", "Requested image not found"));
      continue;
    }
    if ((*m)->archived) {
      failures.push_back(failure(id, "ImageInaccessible", "The image is archived; restore it to STANDARD to pull it"));
      continue;
    }
    const auto& type = (*m)->media_type;
    if (!accepted.empty() && std::find(accepted.begin(), accepted.end(), type) == accepted.end()) {
      failures.push_back(
          failure(id, "ImageNotFound", "The image's manifest media type " + type + " is not in acceptedMediaTypes"));
      continue;
    }
    if (!ctx.access.control || !ctx.access.control->pull_time_excluded(ctx.caller)) {
      ctx.reg.note_pull(repo, (*m)->digest);
    }
    found.push_back({{"registryId", ctx.settings.account_id},
                     {"repositoryName", repo},
                     {"imageId", image_id_json((*m)->digest, tag)},
                     {"imageManifest", std::move((*m)->content)},
                     {"imageManifestMediaType", std::move((*m)->media_type)}});
  }
  if (!repository_seen) {
    if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  }
  return json{{"images", found}, {"failures", failures}};
}

result<json> batch_delete_image(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  json deleted = json::array();
  json failures = json::array();
  for (const auto& id : in["imageIds"]) {
    auto digest = str(id, "imageDigest");
    auto tag = str(id, "imageTag");
    if (digest.empty() && tag.empty()) {
      failures.push_back(
          failure(id, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null"));
      continue;
    }
    if (!digest.empty() && !digest::parse(digest)) {
      failures.push_back(
          failure(id, "InvalidImageDigest",
                  "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"));
      continue;
    }
    if (!tag.empty() && !is_valid_tag(tag)) {
      failures.push_back(failure(id, "InvalidImageTag", "Invalid request parameters: image tag is invalid"));
      continue;
    }
    auto removed = ctx.reg.delete_image(repo, digest, tag);
    if (!removed) {
      auto code = removed.error_value().code;
      if (code == errc::image_referenced_by_index) {
        failures.push_back(failure(id, "ImageReferencedByManifestList", removed.error_value().message));
      } else if (code == errc::image_digest_mismatch) {
        failures.push_back(
            failure(id, "ImageTagDoesNotMatchDigest", "Invalid request parameters: image tag does not match digest"));
      } else if (code == errc::image_not_found) {
        failures.push_back(failure(id, "ImageNotFound", "Requested image not found"));
      } else {
        return removed.take_error();
      }
      continue;
    }
    for (const auto& r : *removed) deleted.push_back(image_id_json(r.digest, r.tag));
  }
  return json{{"imageIds", deleted}, {"failures", failures}};
}

result<json> put_image(call_context& ctx, const json& in) {
  if (auto r = check_registry_id(ctx, in); !r) return r.take_error();
  auto repo = str(in, "repositoryName");
  if (auto r = ctx.repos.get(repo); !r) return r.take_error();
  auto manifest = str(in, "imageManifest");
  auto media_type = str(in, "imageManifestMediaType");
  auto tag = str(in, "imageTag");
  auto want = str(in, "imageDigest");
  // ECR validates the request before it looks at layers: the media type first (a schema 1
  // manifest names none, its version says what it is).
  if (media_type.empty()) {
    auto doc = json::parse(manifest, nullptr, false);
    if (doc.is_object() && !(doc.contains("mediaType") && doc["mediaType"].is_string()) &&
        doc.value("schemaVersion", 0) != 1) {
      return invalid_parameter(
          "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'image manifest mediatype not provided "
          "in manifest or parameter'");
    }
  }
  if (!tag.empty() && !is_valid_tag(tag)) {
    return invalid_parameter(
        "Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular "
        "expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}''");
  }
  digest actual = digest_of(manifest);
  if (!want.empty()) {
    auto d = digest::parse(want);
    if (!d)
      return invalid_parameter("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'invalid digest'");
    actual = digest_of(manifest, d->algorithm());
    if (actual != *d) {
      return make_error(
          errc::image_digest_mismatch,
          "The provided digest " + want + " does not match the digest of the image manifest " + actual.str());
    }
  }
  put_manifest_options options;
  options.reject_unchanged = true;
  reference ref = tag.empty() ? reference(actual) : reference(tag);
  auto pushed = ctx.reg.put_manifest(repo, ref, media_type, manifest, options);
  if (!pushed) {
    auto e = pushed.take_error();
    if (e.code == errc::manifest_blob_unknown) {
      return make_error(errc::layers_not_found, "Layers with digests ['" + std::get<digest_detail>(e.detail).digest +
                                                    "'] required for pushing image "
                                                    "into repository with name '" +
                                                    repo + "' in the registry with id '" + ctx.settings.account_id +
                                                    "' do not exist");
    }
    if (e.code == errc::referenced_images_not_found) {
      return make_error(errc::referenced_images_not_found,
                        "Manifests with digests ['" + std::get<digest_detail>(e.detail).digest +
                            "'] referenced by the image do not exist in the repository");
    }
    if (e.code == errc::manifest_invalid || e.code == errc::manifest_too_large) {
      return invalid_parameter("Invalid parameter at 'imageManifest' failed to satisfy constraint: '" + e.message +
                               "'");
    }
    return e;
  }
  return json{{"image",
               {{"registryId", ctx.settings.account_id},
                {"repositoryName", repo},
                {"imageId", image_id_json(pushed->digest, tag)},
                {"imageManifest", manifest},
                {"imageManifestMediaType", pushed->media_type}}}};
}

}  // namespace

void add_image_operations(std::map<std::string, operation>& t) {
  t["ListImages"] = list_images;
  t["ListImageReferrers"] = list_image_referrers;
  t["DescribeImages"] = describe_images;
  t["BatchGetImage"] = batch_get_image;
  t["BatchDeleteImage"] = batch_delete_image;
  t["PutImage"] = put_image;
}

}  // namespace berth::ecr
