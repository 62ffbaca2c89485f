// Row helpers shared by the SQLite metadata index's translation units (not a public header).
#pragma once

#include <optional>
#include <string>

#include "berth/meta/meta_index.hpp"
#include "berth/meta/sqlite_connection.hpp"

namespace berth::meta::detail {

// Inserts the repository if missing; the caller holds the writer inside a transaction.
inline result<std::int64_t> upsert_repository(sqlite_connection& db, const std::string& name, std::int64_t now) {
  auto ins = db.prepare("INSERT INTO repositories(name, created_at) VALUES(?, ?) ON CONFLICT(name) DO NOTHING");
  ins.bind(1, name).bind(2, now);
  ins.step();
  if (ins.failed()) return db.last_error("insert repository");
  auto sel = db.prepare("SELECT id FROM repositories WHERE name = ?");
  sel.bind(1, name);
  if (!sel.step()) return db.last_error("select repository");
  return sel.int64(0);
}

inline std::optional<std::int64_t> repository_id_of(sqlite_connection& db, const std::string& name) {
  auto sel = db.prepare("SELECT id FROM repositories WHERE name = ?");
  sel.bind(1, name);
  if (!sel.step()) return std::nullopt;
  return sel.int64(0);
}

// Writes never create repositories implicitly: creation is a rule of the domain.
inline result<std::int64_t> require_repository(sqlite_connection& db, const std::string& name) {
  auto id = repository_id_of(db, name);
  if (!id) return make_error(errc::name_unknown, name);
  return *id;
}

inline repository_row read_repository(const statement& s) {
  repository_row r;
  r.name = s.text(0);
  r.created_at = s.int64(1);
  r.settings.image_tag_mutability = s.text(2);
  r.settings.mutability_exclusions = s.text(3);
  r.settings.scan_on_push = s.int64(4) != 0;
  r.settings.encryption_type = s.text(5);
  r.settings.kms_key = s.text(6);
  return r;
}


}  // namespace berth::meta::detail
