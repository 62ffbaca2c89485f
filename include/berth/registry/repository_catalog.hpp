// Repositories as ECR defines them: explicit creation, settings (tag mutability with exclusion
// filters, scanning, encryption), resource tags, creation templates (ECR's push-to-create) and
// account settings. The V2 push path asks it whether a repository may receive a push.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/meta/meta_index.hpp"
#include "berth/core/clock.hpp"

namespace berth {

struct repository_config {
  std::string image_tag_mutability = "MUTABLE";  // MUTABLE | IMMUTABLE | *_WITH_EXCLUSION
  std::vector<std::string> exclusion_filters;     // wildcard filters ('*')
  bool scan_on_push = false;
  std::string encryption_type = "AES256";
  std::string kms_key;
};

struct repository_info {
  std::string name;
  std::int64_t created_at = 0;
  repository_config config;
};

inline constexpr std::size_t max_repository_tags = 50;

// True when `tag` may not move to another digest under `config`.
bool tag_is_immutable(const repository_config& config, const std::string& tag);
// '*' matches any run of characters; everything else literally.
bool wildcard_match(std::string_view pattern, std::string_view text);

class repository_catalog {
 public:
  repository_catalog(meta::meta_index& meta, const clock& clk, std::string registry_id)
      : meta_(meta), clock_(clk), registry_id_(std::move(registry_id)) {}

  const std::string& registry_id() const { return registry_id_; }

  result<repository_info> create(const std::string& name, const repository_config& config,
                                 const meta::resource_tags& tags);
  result<repository_info> get(const std::string& name);
  result<std::vector<repository_info>> list(const std::string& after, std::size_t limit);
  result<repository_info> remove(const std::string& name, bool force);
  result<repository_info> update(const std::string& name, const repository_config& config);
  result<meta::resource_tags> tags(const std::string& name);
  result<void> tag(const std::string& name, const meta::resource_tags& tags);
  result<void> untag(const std::string& name, const std::vector<std::string>& keys);

  // Creation templates are kept as ECR's JSON document (the API's own shape).
  result<void> put_template(const std::string& prefix, const std::string& document, bool create);
  result<std::vector<meta::template_row>> templates();
  result<void> delete_template(const std::string& prefix);

  // A push may go ahead: the repository exists, or a template with CREATE_ON_PUSH matching the
  // name (longest prefix first, ROOT last) creates it now with the template's settings.
  result<repository_info> require_for_push(const std::string& name);

  result<std::string> account_setting(const std::string& name);
  result<void> put_account_setting(const std::string& name, const std::string& value);
  bool blob_mounting_enabled();

  // ECR's wording, shared by both APIs.
  error repository_not_found(const std::string& name) const;

 private:
  result<repository_info> from_template(const std::string& name, const std::string& prefix,
                                        const std::string& document);
  meta::meta_index& meta_;
  const clock& clock_;
  std::string registry_id_;
};

repository_config config_from(const meta::repository_settings& s);
meta::repository_settings settings_from(const repository_config& c);

}  // namespace berth
