// What an upstream registry sends back that the pull-through cache parses before trusting it: a
// WWW-Authenticate challenge and a Location (or token realm) URL. Never crashes; a URL that is
// accepted is an http(s) origin and a target starting with '/'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "berth/upstream/http_upstream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = berth::upstream::parse_challenge(text);
  for (char ch : c.scheme)
    if (ch >= 'A' && ch <= 'Z') std::abort();
  if (auto u = berth::upstream::split_url(text)) {
    if (!u->origin.starts_with("http://") && !u->origin.starts_with("https://")) std::abort();
    if (u->target.empty() || u->target.front() != '/') std::abort();
  }
  return 0;
}
