// The host names ECR's clients use, so that a resolver entry can point them at Berth unchanged:
// the registry as <account>.dkr.ecr.<region>.amazonaws.com, and the JSON APIs at their AWS
// endpoints. The certificate (`berth cert generate --ecr-hostnames`) and the server's answers
// (repositoryUri, proxyEndpoint, another account's registry host) are built from the same list.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

// An account id as ECR writes it (12 digits) and a region name (lower-case letters, digits and
// inner hyphens, as in eu-west-1).
bool is_account_id(std::string_view account);
bool is_region(std::string_view region);

// <account>.dkr.ecr.<region>.amazonaws.com
std::string ecr_registry_host(std::string_view account, std::string_view region);

// Every name a client may address for this account and region: the registry host first, then
// api.ecr.<region>, ecr.<region>, sts.<region>, sts (global), iam (global) and
// secretsmanager.<region>, all under amazonaws.com.
std::vector<std::string> ecr_host_names(std::string_view account, std::string_view region);

// The account and region a registry host names, from a Host header's host (a port, a trailing dot
// and upper case allowed); nullopt for any other name.
struct registry_host {
  std::string account;
  std::string region;
};
std::optional<registry_host> parse_registry_host(std::string_view host);

}  // namespace berth
