// Repositories as ECR defines them: explicit creation, settings (tag mutability with exclusion
// filters, scanning, encryption), resource tags, creation templates (ECR's push-to-create) and
// account settings. The V2 push path asks it whether a repository may receive a push.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/clock.hpp"
#include "berth/core/error.hpp"
#include "berth/core/wildcard.hpp"
#include "berth/meta/rows.hpp"
#include "berth/registry/model.hpp"

namespace berth {

namespace meta {
class metadata_store;
}

inline constexpr std::size_t max_repository_tags = 50;

// True when `tag` may not move to another digest under `config`.
bool tag_is_immutable(const repository_config& config, const std::string& tag);

class repository_catalog {
 public:
  repository_catalog(meta::metadata_store& meta, const clock& clk, std::string registry_id)
      : meta_(meta), clock_(clk), registry_id_(std::move(registry_id)) {}

  const std::string& registry_id() const { return registry_id_; }

  result<repository_info> create(const std::string& name, const repository_config& config, const resource_tags& tags);
  result<repository_info> get(const std::string& name);
  result<std::vector<repository_info>> list(const std::string& after, std::size_t limit);
  result<repository_info> remove(const std::string& name, bool force);
  result<repository_info> update(const std::string& name, const repository_config& config);
  result<resource_tags> tags(const std::string& name);
  result<void> tag(const std::string& name, const resource_tags& tags);
  result<void> untag(const std::string& name, const std::vector<std::string>& keys);

  result<void> put_template(const std::string& prefix, const std::string& document, bool create);
  result<std::vector<template_info>> templates();
  // errc::template_not_found.
  result<template_info> find_template(const std::string& prefix);
  result<void> delete_template(const std::string& prefix);

  // A push may go ahead: the repository exists, or a template with CREATE_ON_PUSH matching the
  // name (longest prefix first, ROOT last) creates it now with the template's settings.
  result<repository_info> require_for_push(const std::string& name);
  // A pull through a cache rule may store what it fetches: the repository exists, or is created
  // now, with the settings of a template with PULL_THROUGH_CACHE matching the name, else ECR's
  // defaults.
  result<repository_info> require_for_cache(const std::string& name);

  result<std::string> account_setting(const std::string& name);
  result<void> put_account_setting(const std::string& name, const std::string& value);
  bool blob_mounting_enabled();

  // ECR's wording, shared by both APIs.
  error repository_not_found(const std::string& name) const;
  error template_not_found(const std::string& prefix) const;

 private:
  // The template with `applied_for` (CREATE_ON_PUSH, PULL_THROUGH_CACHE) covering `name`, if any.
  result<std::optional<meta::template_row>> template_for(const std::string& name, const char* applied_for);
  result<repository_info> from_template(const std::string& name, const std::string& prefix,
                                        const std::string& document);
  meta::metadata_store& meta_;
  const clock& clock_;
  std::string registry_id_;
};

}  // namespace berth
