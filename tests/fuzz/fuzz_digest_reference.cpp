// Digests, references, repository names, tags and upload ids.
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/core/names.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  if (auto d = berth::digest::parse(s)) {
    if (d->str() != s) __builtin_trap();  // parsing is exact: what is accepted round-trips
  }
  (void)berth::parse_reference(s);
  (void)berth::is_valid_repository_name(s);
  (void)berth::is_valid_tag(s);
  (void)berth::is_valid_upload_id(s);
  return 0;
}
