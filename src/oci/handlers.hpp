// V2 endpoint handlers, one file per resource; each returns the exchange for one request.
#pragma once

#include <functional>
#include <memory>

#include "berth/registry/access_control.hpp"

#include "berth/http/message.hpp"
#include "berth/http/simple_exchange.hpp"
#include "berth/oci/path_router.hpp"
#include "berth/oci/wire_error.hpp"
#include "berth/registry/pull_through_cache.hpp"
#include "berth/registry/registry.hpp"

namespace berth::oci {

// `cache`: the repository is a pull-through cache the caller may import into (null: it is not).
std::unique_ptr<http::exchange> blob_exchange(registry& reg, const v2_route& route, const http::request& req,
                                              pull_through_cache* cache = nullptr);
// `may_mount`: whether the caller may pull from the mount's `from` (else a normal upload starts).
std::unique_ptr<http::exchange> upload_start_exchange(registry& reg, const v2_route& route, const http::request& req,
                                                      bool may_mount = true);
std::unique_ptr<http::exchange> upload_exchange(registry& reg, const v2_route& route, const http::request& req);
// `record_pull`: whether a GET counts for lastRecordedPullTime (not for an excluded principal).
std::unique_ptr<http::exchange> manifest_exchange(registry& reg, const v2_route& route, const http::request& req,
                                                  bool record_pull = true, pull_through_cache* cache = nullptr);
std::unique_ptr<http::exchange> tags_exchange(registry& reg, const v2_route& route, const http::request& req);
// `visible`: which repositories the caller may see (null: all).
std::unique_ptr<http::exchange> catalog_exchange(registry& reg, const http::request& req,
                                                 std::function<bool(const std::string&)> visible = nullptr);
std::unique_ptr<http::exchange> referrers_exchange(registry& reg, const v2_route& route, const http::request& req,
                                                   pull_through_cache* cache = nullptr);

inline std::unique_ptr<http::exchange> error_exchange(const error& e) { return http::respond_with(error_response(e)); }
inline std::unique_ptr<http::exchange> unsupported_method() {
  return error_exchange(make_error(errc::unsupported, "the operation is unsupported"));
}

// v2_access.cpp: the ECR actions a V2 request needs (errc::denied with AWS's message).
result<void> authorize_v2(const access_control& access, registry& reg, const auth::identity& who,
                          const http::request& req, const v2_route& route);
bool may_pull(const access_control& access, const auth::identity& who, const http::request& req,
              const std::string& repository);
// ecr:BatchImportUpstreamImage, and ecr:CreateRepository when the repository does not exist yet.
// A replication push may mount a blob from a repository it may replicate into.
bool may_replicate(const access_control& access, const auth::identity& who, const http::request& req,
                   const std::string& repository);
bool may_import(const access_control& access, registry& reg, const auth::identity& who, const http::request& req,
                const std::string& repository);
bool may_describe(const access_control& access, const auth::identity& who, const http::request& req,
                  const std::string& repository);

std::string blob_location(const std::string& name, const std::string& digest);
std::string upload_location(const std::string& name, const std::string& id);

}  // namespace berth::oci
