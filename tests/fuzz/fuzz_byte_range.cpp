// Range and Content-Range headers against blobs of any size.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "berth/core/byte_range.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint64_t blob_size = 0;
  if (size >= 8) {
    std::memcpy(&blob_size, data, 8);
    data += 8;
    size -= 8;
  }
  std::string s(reinterpret_cast<const char*>(data), size);
  auto r = berth::parse_range_header(s, blob_size);
  if (r && *r) {
    // A satisfiable range lies inside the blob.
    if ((*r)->first > (*r)->last || (*r)->last >= blob_size) __builtin_trap();
  }
  if (auto c = berth::parse_content_range(s)) {
    if (c->first > c->last) __builtin_trap();
  }
  return 0;
}
