// Repository creation templates and account settings on SQLite.
#include "sqlite_roles.hpp"

namespace berth::meta {

result<void> sqlite_settings_index::put_template(const template_row& t, bool create) {
  return pool_.write([&](sqlite_connection& db) -> result<void> {
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

result<std::vector<template_row>> sqlite_settings_index::templates() {
  return pool_.read([&](sqlite_connection& db) {
    return db.all("SELECT prefix, document, created_at, updated_at FROM creation_templates ORDER BY prefix",
                  [](const statement& s) {
                    return template_row{s.text(0), s.text(1), s.int64(2), s.int64(3)};
                  });
  });
}

result<bool> sqlite_settings_index::delete_template(const std::string& prefix) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    auto n = db.run("DELETE FROM creation_templates WHERE prefix = ?", prefix);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

result<std::optional<std::string>> sqlite_settings_index::account_setting(const std::string& name) {
  return pool_.read([&](sqlite_connection& db) {
    return db.one("SELECT value FROM account_settings WHERE name = ?", text_column, name);
  });
}

result<void> sqlite_settings_index::put_account_setting(const std::string& name, const std::string& value) {
  return pool_.write([&](sqlite_connection& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO account_settings(name, value) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        name, value);
    if (!n) return n.take_error();
    return {};
  });
}

}  // namespace berth::meta
