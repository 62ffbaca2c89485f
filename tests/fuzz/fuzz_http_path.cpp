// The V2 router and query decoding: any path and query must route or be refused, never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/core/names.hpp"
#include "berth/http/message.hpp"
#include "berth/oci/path_router.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string target(reinterpret_cast<const char*>(data), size);
  berth::http::request req;
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  auto route = berth::oci::parse_v2_path(req.path);
  if (route.name_valid && !route.name.empty() && !berth::is_valid_repository_name(route.name)) __builtin_trap();
  for (auto key : {"digest", "mount", "from", "n", "last", "tag", "artifactType"}) {
    (void)req.query_param(key);
    (void)req.query_params(key);
  }
  (void)berth::http::percent_encode_query_value(berth::http::percent_decode(target, true));
  return 0;
}
