#include "berth/oci/path_router.hpp"

#include "berth/core/names.hpp"

namespace berth::oci {
namespace {

v2_route with_name(v2_endpoint e, std::string_view name, std::string_view arg = {}) {
  v2_route r;
  r.endpoint = e;
  r.name = std::string(name);
  r.arg = std::string(arg);
  r.name_valid = is_valid_repository_name(name);
  return r;
}

}  // namespace

v2_route parse_v2_path(std::string_view path) {
  if (path == "/v2" || path == "/v2/") return v2_route{v2_endpoint::base, {}, {}, true};
  if (!path.starts_with("/v2/")) return {};
  auto rest = path.substr(4);
  if (rest == "_catalog") return v2_route{v2_endpoint::catalog, {}, {}, true};

  constexpr std::string_view tags_suffix = "/tags/list";
  if (rest.ends_with(tags_suffix))
    return with_name(v2_endpoint::tags_list, rest.substr(0, rest.size() - tags_suffix.size()));

  for (std::string_view s : {std::string_view("/blobs/uploads/"), std::string_view("/blobs/uploads")}) {
    if (rest.ends_with(s)) return with_name(v2_endpoint::upload_start, rest.substr(0, rest.size() - s.size()));
  }
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) return {};
  auto last = rest.substr(slash + 1);
  auto prefix = rest.substr(0, slash);
  if (last.empty()) return {};
  struct suffix_route {
    std::string_view suffix;
    v2_endpoint endpoint;
  };
  for (auto [suffix, endpoint] :
       {suffix_route{"/blobs/uploads", v2_endpoint::upload}, suffix_route{"/manifests", v2_endpoint::manifest},
        suffix_route{"/blobs", v2_endpoint::blob}, suffix_route{"/referrers", v2_endpoint::referrers}}) {
    if (prefix.ends_with(suffix)) return with_name(endpoint, prefix.substr(0, prefix.size() - suffix.size()), last);
  }
  return {};
}

}  // namespace berth::oci
