#include "berth/core/ecr_host_names.hpp"

#include "berth/core/ascii.hpp"

namespace berth {
namespace {

constexpr std::string_view registry_infix = ".dkr.ecr.";
constexpr std::string_view aws_suffix = ".amazonaws.com";

}  // namespace

bool is_account_id(std::string_view a) { return a.size() == 12 && a.find_first_not_of("0123456789") == a.npos; }

bool is_region(std::string_view r) {
  return !r.empty() && r.size() <= 32 && r.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == r.npos &&
         r.front() != '-' && r.back() != '-';
}

std::string ecr_registry_host(std::string_view account, std::string_view region) {
  return std::string(account) + std::string(registry_infix) + std::string(region) + std::string(aws_suffix);
}

std::vector<std::string> ecr_host_names(std::string_view account, std::string_view region) {
  const std::string r(region);
  const std::string s(aws_suffix);
  return {ecr_registry_host(account, region), "api.ecr." + r + s, "ecr." + r + s, "sts." + r + s, "sts" + s, "iam" + s,
          "secretsmanager." + r + s};
}

std::optional<registry_host> parse_registry_host(std::string_view host) {
  // host:port, and [v6]:port, which is never a registry host.
  if (auto colon = host.rfind(':'); colon != host.npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string h = ascii_lower(host);
  if (h.size() <= aws_suffix.size() || h.compare(h.size() - aws_suffix.size(), aws_suffix.size(), aws_suffix) != 0) {
    return std::nullopt;
  }
  std::string_view rest(h);
  rest.remove_suffix(aws_suffix.size());
  auto infix = rest.find(registry_infix);
  if (infix != 12) return std::nullopt;
  auto account = rest.substr(0, 12);
  auto region = rest.substr(12 + registry_infix.size());
  if (!is_account_id(account) || !is_region(region)) return std::nullopt;
  return registry_host{std::string(account), std::string(region)};
}

}  // namespace berth
