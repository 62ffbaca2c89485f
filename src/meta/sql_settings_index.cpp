// Repository creation templates and account settings in SQL (SQLite and PostgreSQL).
#include "sql_roles.hpp"

namespace berth::meta {

template <class Pool>
result<void> sql_settings_index<Pool>::put_template(const template_row& t, bool create) {
  return pool_.write([&](auto& db) -> result<void> {
    if (create) {
      auto n = db.run(
          "INSERT INTO creation_templates(prefix, document, created_at, updated_at) VALUES(?, ?, ?, ?) "
          "ON CONFLICT(prefix) DO NOTHING",
          t.prefix, t.document, t.created_at, t.updated_at);
      if (!n) return n.take_error();
      if (*n == 0) return make_error(errc::template_already_exists, t.prefix);
      return {};
    }
    auto n = db.run("UPDATE creation_templates SET document = ?, updated_at = ? WHERE prefix = ?", t.document,
                    t.updated_at, t.prefix);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::template_not_found, t.prefix);
    return {};
  });
}

template <class Pool>
result<std::vector<template_row>> sql_settings_index<Pool>::templates() {
  return pool_.read([&](auto& db) {
    return db.all("SELECT prefix, document, created_at, updated_at FROM creation_templates ORDER BY prefix",
                  [](const auto& s) {
                    return template_row{s.text(0), s.text(1), s.int64(2), s.int64(3)};
                  });
  });
}

template <class Pool>
result<bool> sql_settings_index<Pool>::delete_template(const std::string& prefix) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n = db.run("DELETE FROM creation_templates WHERE prefix = ?", prefix);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<void> sql_settings_index<Pool>::put_pull_through_rule(const pull_through_rule_row& r, bool create) {
  return pool_.write([&](auto& db) -> result<void> {
    if (create) {
      auto n = db.run(
          "INSERT INTO pull_through_rules(prefix, upstream_url, upstream_registry, credential_arn, custom_role_arn, "
          "upstream_prefix, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(prefix) DO NOTHING",
          r.prefix, r.upstream_url, r.upstream_registry, r.credential_arn, r.custom_role_arn, r.upstream_prefix,
          r.created_at, r.updated_at);
      if (!n) return n.take_error();
      if (*n == 0) return make_error(errc::pull_through_rule_already_exists, r.prefix);
      return {};
    }
    auto n =
        db.run("UPDATE pull_through_rules SET credential_arn = ?, custom_role_arn = ?, updated_at = ? WHERE prefix = ?",
               r.credential_arn, r.custom_role_arn, r.updated_at, r.prefix);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::pull_through_rule_not_found, r.prefix);
    return {};
  });
}

template <class Pool>
result<std::vector<pull_through_rule_row>> sql_settings_index<Pool>::pull_through_rules() {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT prefix, upstream_url, upstream_registry, credential_arn, custom_role_arn, upstream_prefix, created_at, "
        "updated_at FROM pull_through_rules ORDER BY prefix",
        [](const auto& s) {
          return pull_through_rule_row{s.text(0), s.text(1), s.text(2),  s.text(3),
                                       s.text(4), s.text(5), s.int64(6), s.int64(7)};
        });
  });
}

template <class Pool>
result<bool> sql_settings_index<Pool>::delete_pull_through_rule(const std::string& prefix) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n = db.run("DELETE FROM pull_through_rules WHERE prefix = ?", prefix);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<std::optional<std::string>> sql_settings_index<Pool>::account_setting(const std::string& name) {
  return pool_.read(
      [&](auto& db) { return db.one("SELECT value FROM account_settings WHERE name = ?", text_column, name); });
}

template <class Pool>
result<void> sql_settings_index<Pool>::put_account_setting(const std::string& name, const std::string& value) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO account_settings(name, value) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        name, value);
    if (!n) return n.take_error();
    return {};
  });
}

template class sql_settings_index<connection_pool>;
template class sql_settings_index<pg_pool>;

}  // namespace berth::meta
