// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include "handlers.hpp"

namespace berth::oci {
namespace {

http::response get_blob(registry& reg, pull_through_cache* cache, const std::string& name, const digest& d,
                        const http::request& req) {
  const bool head = req.method == http::verb::head;
  http::response r;
  r.headers.add("Docker-Content-Digest", d.str());
  r.headers.add("ETag", "\"" + d.str() + "\"");
  r.headers.add("Accept-Ranges", "bytes");
  r.headers.add("Content-Type", "application/octet-stream");
  r.headers.add("Cache-Control", "max-age=31536000");
  if (head) {
    auto size = cache ? cache->blob_size(name, d) : reg.blob_size(name, d);
    if (!size) return error_response(size.error_value());
    r.head_length = *size;
    return r;
  }
  auto blob = cache ? cache->blob(name, d) : reg.open_blob(name, d);
  if (!blob) return error_response(blob.error_value());
  const auto size = (*blob)->size();
  std::uint64_t offset = 0;
  std::uint64_t length = size;
  if (auto range_header = req.header("Range")) {
    auto range = parse_range_header(*range_header, size);
    if (!range) {
      auto e = error_response(range.error_value());
      e.headers.add("Content-Range", "bytes */" + std::to_string(size));
      return e;
    }
    if (*range) {
      r.status = 206;
      offset = (*range)->first;
      length = (*range)->length();
      r.headers.add("Content-Range", "bytes " + std::to_string((*range)->first) + "-" + std::to_string((*range)->last) +
                                         "/" + std::to_string(size));
    }
  }
  auto bytes = (*blob)->bytes(offset, length, true);
  if (!bytes) return error_response(bytes.error_value());
  if (auto* f = std::get_if<file_region>(&*bytes)) {
    r.file = std::move(*f);
  } else if (auto* s = std::get_if<stream_source>(&*bytes)) {
    r.stream = std::move(*s);
  } else {
    // The store hands out a URL (an object store's presigned GET): the client fetches from there,
    // with its own Range header.
    http::response redirect;
    redirect.status = 307;
    redirect.headers.add("Location", std::get<redirect_source>(*bytes).url);
    redirect.headers.add("Docker-Content-Digest", d.str());
    return redirect;
  }
  return r;
}

}  // namespace

std::unique_ptr<http::exchange> blob_exchange(registry& reg, const v2_route& route, const http::request& req,
                                              pull_through_cache* cache) {
  auto d = digest::parse(route.arg);
  if (!d) return error_exchange(d.error_value());
  switch (req.method) {
    case http::verb::get:
    case http::verb::head:
      // Through the cache the upstream may be asked: blocking, off the I/O threads.
      return std::make_unique<http::function_exchange>(
          [&reg, cache, name = route.name, d = *d](http::request& r) { return get_blob(reg, cache, name, d, r); },
          cache != nullptr);
    case http::verb::delete_:
      return std::make_unique<http::function_exchange>(
          [&reg, name = route.name, d = *d](http::request&) {
            if (auto res = reg.delete_blob(name, d); !res) return error_response(res.error_value());
            http::response r;
            r.status = 202;
            r.headers.add("Docker-Content-Digest", d.str());
            return r;
          },
          true);
    default: return unsupported_method();
  }
}

}  // namespace berth::oci
