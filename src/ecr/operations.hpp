// The ECR operations, grouped by resource in one file each; all share this context.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "berth/auth/identity.hpp"
#include "berth/auth/login_token.hpp"
#include "berth/ecr/ecr_api.hpp"
#include "berth/registry/lifecycle_service.hpp"
#include "berth/registry/registry.hpp"

namespace berth::ecr {

using json = nlohmann::json;

struct call_context {
  registry& reg;
  repository_catalog& repos;
  lifecycle_service& lifecycle;
  const auth::login_token_issuer& tokens;
  const auth::blob_url_signer& urls;
  const ecr_settings& settings;
  const auth::identity& caller;
  const ecr_access& access;
  const ecr_cache& cache;
  const ecr_replication& replication;
  std::string host;  // public host[:port]
  std::int64_t now = 0;
};

using operation = result<json> (*)(call_context&, const json&);

// Name → implementation for every operation Berth implements.
const std::map<std::string, operation>& operation_table();

void add_repository_operations(std::map<std::string, operation>& t);
void add_image_operations(std::map<std::string, operation>& t);
void add_layer_operations(std::map<std::string, operation>& t);
void add_registry_operations(std::map<std::string, operation>& t);
void add_lifecycle_operations(std::map<std::string, operation>& t);
void add_policy_operations(std::map<std::string, operation>& t);
void add_pull_through_operations(std::map<std::string, operation>& t);
void add_replication_operations(std::map<std::string, operation>& t);

// Shared helpers.
std::string str(const json& in, const char* key, const std::string& fallback = "");
std::string repository_arn(const call_context& ctx, const std::string& name);
json repository_json(const call_context& ctx, const repository_info& r);
// Fails with RepositoryNotFoundException-worded error when registryId names another registry.
result<void> check_registry_id(const call_context& ctx, const json& in);
// Opaque pagination tokens: the last key of the previous page.
std::string next_token(const std::string& last_key);
result<std::string> read_next_token(const json& in);
std::size_t page_size(const json& in, std::size_t fallback);

// One page of a small list already in key order (creation templates): those after the request's
// nextToken, at most maxResults (default `fallback`). Returns the token of the next page, "" on the
// last. Listings that can be large (images, repositories) are paged by the domain instead.
template <class Items, class Key, class Emit>
result<std::string> fill_page(const json& in, std::size_t fallback, const Items& items, Key key, Emit emit) {
  auto after = read_next_token(in);
  if (!after) return after.take_error();
  const auto limit = page_size(in, fallback);
  std::size_t n = 0;
  std::string last;
  for (const auto& item : items) {
    std::string k = key(item);
    if (!after->empty() && k <= *after) continue;
    if (n == limit) return next_token(last);
    emit(item);
    ++n;
    last = std::move(k);
  }
  return std::string();
}
image_filter filter_of(const json& in);
// PutReplicationConfiguration's rules, from a request the model has validated.
std::vector<replication_rule> replication_rules_of(const json& in);
error invalid_parameter(const std::string& message);

}  // namespace berth::ecr
