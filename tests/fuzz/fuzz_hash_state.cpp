// Upload hash states as they come back from the metadata store: any bytes either import to a state
// that exports to the same bytes and keeps hashing, or are refused.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "berth/core/digest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto h = berth::hasher::import_state(in);
  if (!h) return 0;
  if (h->export_state() != in) __builtin_trap();
  h->update(data, size);
  (void)h->peek();
  return 0;
}
