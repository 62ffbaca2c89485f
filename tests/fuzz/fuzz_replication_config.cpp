// PutReplicationConfiguration: any body through the model's shape check, the adapter's decoding,
// the domain's validation and the matching of repository names against what it accepts.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "../../src/ecr/operations.hpp"
#include "../../src/ecr/shape_validator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto body = nlohmann::json::parse(data, data + size, nullptr, false);
  if (body.is_discarded()) return 0;
  if (!berth::ecr::shape_validator::instance().validate("PutReplicationConfiguration", body)) return 0;
  static const std::vector<berth::replication_peer> peers{
      {"eu-west-1", "210987654321", "http://127.0.0.1:1", "k", "s"},
      {"ap-south-1", "310987654321", "http://127.0.0.1:2", "k", "s"}};
  auto rules =
      berth::replication_rules::check(berth::ecr::replication_rules_of(body), peers, "000000000000", "us-east-1");
  if (!rules) return 0;
  for (const char* repo : {"prod/app", "p", "", "team/x/y"}) (void)berth::replication_rules::match(*rules, repo);
  return 0;
}
