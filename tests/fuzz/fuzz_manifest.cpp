// Every manifest and index parser, under each declared media type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/registry/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* types[] = {"",
                                "application/vnd.oci.image.manifest.v1+json",
                                "application/vnd.oci.image.index.v1+json",
                                "application/vnd.docker.distribution.manifest.v2+json",
                                "application/vnd.docker.distribution.manifest.list.v2+json",
                                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                                "application/json; charset=utf-8",
                                "text/plain"};
  auto type = types[data[0] % (sizeof types / sizeof *types)];
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto m = berth::parse_manifest(body, type);
  if (m && m->kind == berth::manifest_kind::image && !m->config) __builtin_trap();
  return 0;
}
