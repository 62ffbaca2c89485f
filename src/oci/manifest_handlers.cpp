// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
#include <strings.h>

#include <string_view>

#include "handlers.hpp"

namespace berth::oci {
namespace {

// Docker types are always served (there is no older format to fall back to); OCI types only
// when asked for, as distribution does.
bool accepts(const http::request& req, std::string_view type) {
  bool any_accept = false;
  for (const auto& [k, v] : req.headers.items()) {
    if (k.size() != 6 || strncasecmp(k.c_str(), "accept", 6) != 0) continue;
    any_accept = true;
    std::string_view list = v;
    while (!list.empty()) {
      auto comma = list.find(',');
      auto item = bare_media_type(list.substr(0, comma));
      if (item == type || item == "*/*") return true;
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
  }
  if (!any_accept) return true;
  return type == media_type::docker_manifest || type == media_type::docker_manifest_list;
}

bool etag_matches(const http::request& req, const std::string& digest) {
  auto inm = req.header("If-None-Match");
  if (!inm) return false;
  return inm->find(digest) != std::string_view::npos || *inm == "*";
}

// The media types the client accepts, as it listed them (for the upstream of a cache).
std::vector<std::string> accept_list(const http::request& req) {
  std::vector<std::string> out;
  for (const auto& [k, v] : req.headers.items()) {
    if (k.size() != 6 || !std::equal(k.begin(), k.end(), "accept",
                                     [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; })) {
      continue;
    }
    std::size_t i = 0;
    while (i < v.size()) {
      auto comma = v.find(',', i);
      auto item = std::string(
          bare_media_type(std::string_view(v).substr(i, comma == std::string::npos ? v.size() - i : comma - i)));
      if (!item.empty() && item != "*/*" && out.size() < 32) out.push_back(std::move(item));
      if (comma == std::string::npos) break;
      i = comma + 1;
    }
  }
  return out;
}

http::response get_manifest(registry& reg, pull_through_cache* cache, const std::string& name, const reference& ref,
                            const http::request& req, bool record_pull) {
  const bool pull = record_pull && req.method == http::verb::get;
  auto m = cache ? cache->manifest(name, ref, accept_list(req), pull) : reg.get_manifest(name, ref, pull);
  if (!m) return error_response(m.error_value());
  if (!accepts(req, m->media_type)) {
    return error_response(make_error(errc::manifest_unknown, "manifest unknown: not in an accepted media type"));
  }
  http::response r;
  r.headers.add("Docker-Content-Digest", m->digest);
  r.headers.add("ETag", "\"" + m->digest + "\"");
  r.headers.add("Content-Type", m->media_type);
  if (etag_matches(req, m->digest)) {
    r.status = 304;
    return r;
  }
  if (req.method == http::verb::head) {
    r.head_length = m->content.size();
  } else {
    r.body = std::move(m->content);
  }
  return r;
}

http::response put_manifest(registry& reg, const std::string& name, const reference& ref, http::request& req) {
  auto type = req.header("Content-Type").value_or("");
  put_manifest_options options;
  options.extra_tags = req.query_params("tag");
  options.replicated = req.header("X-Berth-Replication").has_value();
  auto pushed = reg.put_manifest(name, ref, type, std::move(req.body), options);
  if (!pushed) return error_response(pushed.error_value());
  http::response r;
  r.status = 201;
  r.headers.add("Location", "/v2/" + name + "/manifests/" + pushed->digest);
  r.headers.add("Docker-Content-Digest", pushed->digest);
  if (!pushed->subject.empty()) r.headers.add("OCI-Subject", pushed->subject);
  if (std::holds_alternative<digest>(ref)) {
    for (const auto& t : pushed->tags) r.headers.add("OCI-Tag", t);
  }
  return r;
}

}  // namespace

std::unique_ptr<http::exchange> manifest_exchange(registry& reg, const v2_route& route, const http::request& req,
                                                  bool record_pull, pull_through_cache* cache) {
  auto ref = parse_reference(route.arg);
  if (!ref) {
    // A malformed tag names nothing that exists; on PUT it is the client's mistake.
    if (req.method != http::verb::put && ref.error_value().code == errc::tag_invalid) {
      return error_exchange(make_error(errc::manifest_unknown, "manifest unknown to registry"));
    }
    return error_exchange(ref.error_value());
  }
  switch (req.method) {
    case http::verb::get:
    case http::verb::head:
      return std::make_unique<http::function_exchange>(
          [&reg, cache, name = route.name, ref = *ref, record_pull](http::request& r) {
            return get_manifest(reg, cache, name, ref, r, record_pull);
          },
          cache != nullptr);
    case http::verb::put:
      return std::make_unique<http::buffered_exchange>(
          max_manifest_size,
          [&reg, name = route.name, ref = *ref](http::request& r) { return put_manifest(reg, name, ref, r); },
          [] { return error_response(make_error(errc::manifest_too_large, "manifest exceeds 4 MiB")); }, true);
    case http::verb::delete_:
      return std::make_unique<http::function_exchange>(
          [&reg, name = route.name, ref = *ref](http::request&) {
            if (auto res = reg.delete_manifest(name, ref); !res) return error_response(res.error_value());
            http::response r;
            r.status = 202;
            return r;
          },
          true);
    default: return unsupported_method();
  }
}

}  // namespace berth::oci
