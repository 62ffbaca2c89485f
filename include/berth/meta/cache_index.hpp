// Metadata role: the pull-through cache's durable work and memory. An import is an upstream
// manifest a client pulled (verified, kept here with its bytes) whose blobs are still being
// fetched: a worker on any server claims it for a while, fetches what is missing and stores the
// manifest, or sets it back with a later attempt time. Tag checks remember when a cached tag was
// last compared with its upstream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "berth/core/error.hpp"

namespace berth::meta {

struct cache_import_row {
  std::string repository;
  std::string digest;
  std::string tag;  // "" for a pull by digest
  std::string media_type;
  std::string content;
  std::int64_t created_at = 0;
  std::int64_t attempts = 0;
  std::int64_t next_at = 0;
  std::string last_error;
};

class cache_index {
 public:
  virtual ~cache_index() = default;

  // Once per (repository, digest, tag): a second pull of the same upstream manifest adds nothing.
  virtual result<void> enqueue(const cache_import_row& r) = 0;
  // A pending import of `repository` by digest or by tag (`reference` is either).
  virtual result<std::optional<cache_import_row>> pending(const std::string& repository,
                                                          const std::string& reference) = 0;
  // The import due first (next_at <= now) nobody holds, held by `holder` until `until`.
  virtual result<std::optional<cache_import_row>> claim_due(const std::string& holder, std::int64_t now,
                                                            std::int64_t until) = 0;
  virtual result<void> finish(const cache_import_row& r) = 0;
  // Released for another attempt at `next_at`.
  virtual result<void> retry(const cache_import_row& r, std::int64_t next_at, const std::string& error) = 0;

  virtual result<std::optional<std::int64_t>> tag_checked_at(const std::string& repository, const std::string& tag) = 0;
  virtual result<void> set_tag_checked_at(const std::string& repository, const std::string& tag, std::int64_t when) = 0;
};

}  // namespace berth::meta
