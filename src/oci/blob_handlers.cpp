// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include "handlers.hpp"

namespace berth::oci {
namespace {

http::response get_blob(registry& reg, const std::string& name, const digest& d, const http::request& req) {
  const bool head = req.method == http::verb::head;
  http::response r;
  r.headers.add("Docker-Content-Digest", d.str());
  r.headers.add("ETag", "\"" + d.str() + "\"");
  r.headers.add("Accept-Ranges", "bytes");
  r.headers.add("Content-Type", "application/octet-stream");
  r.headers.add("Cache-Control", "max-age=31536000");
  if (head) {
    auto size = reg.blob_size(name, d);
    if (!size) return error_response(size.error_value());
    r.head_length = *size;
    return r;
  }
  auto blob = reg.open_blob(name, d);
  if (!blob) return error_response(blob.error_value());
  http::file_payload f{blob->file, blob->file->get(), 0, blob->size};
  if (auto range_header = req.header("Range")) {
    auto range = parse_range_header(*range_header, blob->size);
    if (!range) {
      auto e = error_response(range.error_value());
      e.headers.add("Content-Range", "bytes */" + std::to_string(blob->size));
      return e;
    }
    if (*range) {
      r.status = 206;
      f.offset = (*range)->first;
      f.length = (*range)->length();
      r.headers.add("Content-Range", "bytes " + std::to_string((*range)->first) + "-" +
                                         std::to_string((*range)->last) + "/" + std::to_string(blob->size));
    }
  }
  r.file = std::move(f);
  return r;
}

}  // namespace

std::unique_ptr<http::exchange> blob_exchange(registry& reg, const v2_route& route, const http::request& req) {
  auto d = digest::parse(route.arg);
  if (!d) return error_exchange(d.error_value());
  switch (req.method) {
    case http::verb::get:
    case http::verb::head:
      return std::make_unique<http::function_exchange>(
          [&reg, name = route.name, d = *d](http::request& r) { return get_blob(reg, name, d, r); }, false);
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
    default:
      return unsupported_method();
  }
}

}  // namespace berth::oci
