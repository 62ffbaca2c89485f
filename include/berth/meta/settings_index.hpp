// Metadata role: registry-wide settings: repository creation templates, pull-through cache rules and
// account settings.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class settings_index {
 public:
  virtual ~settings_index() = default;

  // create: errc::template_already_exists; update: errc::template_not_found.
  virtual result<void> put_template(const template_row& t, bool create) = 0;
  virtual result<std::vector<template_row>> templates() = 0;
  virtual result<bool> delete_template(const std::string& prefix) = 0;
  // create: errc::pull_through_rule_already_exists; update: errc::pull_through_rule_not_found.
  virtual result<void> put_pull_through_rule(const pull_through_rule_row& r, bool create) = 0;
  virtual result<std::vector<pull_through_rule_row>> pull_through_rules() = 0;
  virtual result<bool> delete_pull_through_rule(const std::string& prefix) = 0;
  virtual result<std::optional<std::string>> account_setting(const std::string& name) = 0;
  virtual result<void> put_account_setting(const std::string& name, const std::string& value) = 0;
};

}  // namespace berth::meta
