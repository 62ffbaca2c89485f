// The identity role's resource policies (repository, registry) and pull-time exclusions, in SQL:
// each write bumps the access generation in its transaction, as the rest of the role does.
#include "sql_roles.hpp"

namespace berth::meta {
template <class Pool>
result<std::optional<stored_policy>> sql_identity_index<Pool>::repository_policy(const std::string& repository) {
  return pool_.read([&](auto& db) -> result<std::optional<stored_policy>> {
    auto id = sql_rows::require_repository(db, repository);
    if (!id) return id.take_error();
    return db.one(
        "SELECT document, stored_at, principal_ids FROM repository_policies WHERE repository_id = ?",
        [](const auto& s) {
          return stored_policy{s.text(0), s.int64(1), s.text(2)};
        },
        *id);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::put_repository_policy(const std::string& repository, const stored_policy& p) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto id = sql_rows::require_repository(db, repository);
    if (!id) return id.take_error();
    auto n = db.run(
        "INSERT INTO repository_policies(repository_id, document, stored_at, principal_ids) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(repository_id) DO UPDATE SET document = excluded.document, stored_at = excluded.stored_at, "
        "principal_ids = excluded.principal_ids",
        *id, p.document, p.stored_at, p.principal_ids);
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<bool> sql_identity_index<Pool>::delete_repository_policy(const std::string& repository) {
  return pool_.write_access([&](auto& db) -> result<bool> {
    auto id = sql_rows::require_repository(db, repository);
    if (!id) return id.take_error();
    auto n = db.run("DELETE FROM repository_policies WHERE repository_id = ?", *id);
    if (!n) return n.take_error();
    if (*n == 0) return false;
    if (auto b = sql_rows::bump_access(db); !b) return b.take_error();
    return true;
  });
}

template <class Pool>
result<std::optional<stored_policy>> sql_identity_index<Pool>::registry_policy() {
  return pool_.read([&](auto& db) {
    return db.one("SELECT document, stored_at, principal_ids FROM registry_policy WHERE slot = 1", [](const auto& s) {
      return stored_policy{s.text(0), s.int64(1), s.text(2)};
    });
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::put_registry_policy(const stored_policy& p) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO registry_policy(slot, document, stored_at, principal_ids) VALUES(1, ?, ?, ?) "
        "ON CONFLICT(slot) DO UPDATE SET document = excluded.document, stored_at = excluded.stored_at, "
        "principal_ids = excluded.principal_ids",
        p.document, p.stored_at, p.principal_ids);
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<bool> sql_identity_index<Pool>::delete_registry_policy() {
  return pool_.write_access([&](auto& db) -> result<bool> {
    auto n = db.run("DELETE FROM registry_policy WHERE slot = 1");
    if (!n) return n.take_error();
    if (*n == 0) return false;
    if (auto b = sql_rows::bump_access(db); !b) return b.take_error();
    return true;
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::add_pull_exclusion(const std::string& principal_arn, std::int64_t now) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO pull_time_exclusions(principal_arn, created_at) VALUES(?, ?) "
        "ON CONFLICT(principal_arn) DO NOTHING",
        principal_arn, now);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::entity_already_exists, principal_arn);
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::remove_pull_exclusion(const std::string& principal_arn) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto n = db.run("DELETE FROM pull_time_exclusions WHERE principal_arn = ?", principal_arn);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::no_such_entity, principal_arn);
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<std::vector<std::string>> sql_identity_index<Pool>::pull_exclusions() {
  return pool_.read([&](auto& db) {
    return db.all("SELECT principal_arn FROM pull_time_exclusions ORDER BY principal_arn", text_column);
  });
}

// The members defined here, for both pools (the class itself is instantiated in
// sql_identity_index.cpp: one explicit instantiation of a class per program).
#define BERTH_INSTANTIATE(Pool)                                                                                    \
  template result<std::optional<stored_policy>> sql_identity_index<Pool>::repository_policy(const std::string&);   \
  template result<void> sql_identity_index<Pool>::put_repository_policy(const std::string&, const stored_policy&); \
  template result<bool> sql_identity_index<Pool>::delete_repository_policy(const std::string&);                    \
  template result<std::optional<stored_policy>> sql_identity_index<Pool>::registry_policy();                       \
  template result<void> sql_identity_index<Pool>::put_registry_policy(const stored_policy&);                       \
  template result<bool> sql_identity_index<Pool>::delete_registry_policy();                                        \
  template result<void> sql_identity_index<Pool>::add_pull_exclusion(const std::string&, std::int64_t);            \
  template result<void> sql_identity_index<Pool>::remove_pull_exclusion(const std::string&);                       \
  template result<std::vector<std::string>> sql_identity_index<Pool>::pull_exclusions();
BERTH_INSTANTIATE(connection_pool)
BERTH_INSTANTIATE(pg_pool)
#undef BERTH_INSTANTIATE

}  // namespace berth::meta
