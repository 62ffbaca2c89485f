// The configuration file: any text through the JSON reader (its line/column errors), the key checks
// (their did-you-mean suggestions) and every section's validation, and any text as a listen address.
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto s = berth::config::apply_json(berth::config::settings{}, text);
  if (!s) (void)s.error_value().message.size();
  (void)berth::config::parse_listen(text);
  return 0;
}
