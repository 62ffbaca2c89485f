// Splits a /v2/ path into endpoint, repository name and argument. Repository names contain
// slashes, so the endpoint is recognised from the right-hand end of the path.
#pragma once

#include <string>
#include <string_view>

namespace berth::oci {

enum class v2_endpoint { base, catalog, tags_list, manifest, blob, upload_start, upload, referrers, not_found };

struct v2_route {
  v2_endpoint endpoint = v2_endpoint::not_found;
  std::string name;  // repository (validated unless name_valid is false)
  std::string arg;   // reference, digest or upload id, not yet validated
  bool name_valid = false;
};

v2_route parse_v2_path(std::string_view path);

}  // namespace berth::oci
