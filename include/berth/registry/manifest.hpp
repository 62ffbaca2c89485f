// Manifest model and parser: Docker schema2 manifest and manifest list, OCI image manifest and
// index (with artifactType and subject). The stored bytes are never re-serialized; this only reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/core/digest.hpp"

namespace berth {

namespace media_type {
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_manifest_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_schema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view docker_schema1_signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media_type

inline constexpr std::size_t max_manifest_size = 4 * 1024 * 1024;

struct descriptor {
  std::string media_type;
  digest dgst;
  std::int64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;  // "" or a JSON object
  bool has_urls = false;         // non-distributable layer: the registry need not hold it
};

enum class manifest_kind { image, index };

struct parsed_manifest {
  manifest_kind kind = manifest_kind::image;
  std::string media_type;
  std::optional<descriptor> config;
  std::vector<descriptor> layers;
  std::vector<descriptor> manifests;
  std::optional<descriptor> subject;
  std::string artifact_type;     // for referrers: artifactType, else config.mediaType
  std::string annotations_json;  // "" or a JSON object
};

// Strips parameters ("; charset=utf-8") and whitespace from a Content-Type value.
std::string_view bare_media_type(std::string_view content_type);
bool is_manifest_media_type(std::string_view type);

// Validates `bytes` as a manifest of `content_type` (may be empty: then the document's mediaType
// decides). Errors: manifest_invalid (with a message naming the problem).
result<parsed_manifest> parse_manifest(std::string_view bytes, std::string_view content_type);

}  // namespace berth
