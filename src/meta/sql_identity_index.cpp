// Identities and the documents authorization reads, in SQL (SQLite and PostgreSQL). Every write
// bumps access_generation in the same transaction, so a cache keyed by it is never stale.
#include "sql_roles.hpp"

namespace berth::meta {
namespace {

// IAM names are ASCII ([\w+=,.@-]); uniqueness and lookups ignore case.
std::string key_of(const std::string& name) {
  std::string k = name;
  for (auto& c : k)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return k;
}

inline constexpr auto read_user = [](const auto& s) {
  return user_row{s.text(0), s.text(1), s.text(2), s.int64(3), s.boolean(4)};
};
inline constexpr auto read_key = [](const auto& s) {
  return access_key_row{s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4)};
};
inline constexpr auto read_group = [](const auto& s) { return group_row{s.text(0), s.text(1), s.text(2), s.int64(3)}; };

template <class Db>
result<bool> user_exists(Db& db, const std::string& key) {
  return db.exists("SELECT 1 FROM iam_users WHERE name_key = ?", key);
}

template <class Db>
result<bool> owner_exists(Db& db, const std::string& kind, const std::string& key) {
  if (kind == "group") return db.exists("SELECT 1 FROM iam_groups WHERE name_key = ?", key);
  return user_exists(db, key);
}

error no_user(const std::string& name) {
  return make_error(errc::no_such_entity, "The user with name " + name + " cannot be found.");
}
error no_group(const std::string& name) {
  return make_error(errc::no_such_entity, "The group with name " + name + " cannot be found.");
}
error no_owner(const std::string& kind, const std::string& name) {
  return kind == "group" ? no_group(name) : no_user(name);
}

// errc::no_such_entity (IAM's message) unless the user, or the user or group, exists.
template <class Db>
result<void> require_owner(Db& db, const std::string& kind, const std::string& name) {
  auto exists = owner_exists(db, kind, key_of(name));
  if (!exists) return exists.take_error();
  if (!*exists) return no_owner(kind, name);
  return {};
}

}  // namespace

template <class Pool>
result<std::int64_t> sql_identity_index<Pool>::generation() {
  if (auto local = pool_.local_access_generation()) return *local;
  return pool_.read([&](auto& db) -> result<std::int64_t> {
    auto v = db.one("SELECT value FROM access_generation WHERE slot = 1", int_column);
    if (!v) return v.take_error();
    return v->value_or(0);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::create_user(const user_row& u) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO iam_users(name_key, name, path, user_id, created_at, basic_pull) VALUES(?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(name_key) DO NOTHING",
        key_of(u.name), u.name, u.path, u.user_id, u.created_at, u.basic_pull);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::entity_already_exists, "User with name " + u.name + " already exists.");
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<std::optional<user_row>> sql_identity_index<Pool>::find_user(const std::string& name) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT name, path, user_id, created_at, basic_pull FROM iam_users WHERE name_key = ?", read_user,
                  key_of(name));
  });
}

template <class Pool>
result<std::vector<user_row>> sql_identity_index<Pool>::list_users(const std::string& path_prefix,
                                                                   const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) {
    // The prefix is matched in the caller's terms (bytewise), not with LIKE's wildcards.
    return db.all(
        "SELECT name, path, user_id, created_at, basic_pull FROM iam_users "
        "WHERE substr(path, 1, ?) = ? AND name > ? ORDER BY name LIMIT ?",
        read_user, static_cast<std::int64_t>(path_prefix.size()), path_prefix, after, static_cast<std::int64_t>(limit));
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::set_basic_pull(const std::string& name, bool on) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto n = db.run("UPDATE iam_users SET basic_pull = ? WHERE name_key = ?", on, key_of(name));
    if (!n) return n.take_error();
    if (*n == 0) return no_user(name);
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::delete_user(const std::string& name) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(name);
    if (auto r = require_owner(db, "user", name); !r) return r.take_error();
    // IAM's order of conflicts: keys, then policies, then groups.
    struct check {
      const char* sql;
      const char* what;
    };
    static constexpr check checks[] = {
        {"SELECT 1 FROM iam_access_keys WHERE user_key = ?", "access keys"},
        {"SELECT 1 FROM iam_inline_policies WHERE owner_kind = 'user' AND owner_key = ?", "policies"},
        {"SELECT 1 FROM iam_group_members WHERE user_key = ?", "groups"},
    };
    for (const auto& c : checks) {
      auto has = db.exists(c.sql, key);
      if (!has) return has.take_error();
      if (*has) {
        return make_error(errc::delete_conflict,
                          std::string("Cannot delete entity, must ") +
                              (std::string_view(c.what) == "groups" ? "remove users from group" : "delete ") +
                              (std::string_view(c.what) == "groups" ? "" : c.what) + " first.");
      }
    }
    auto n = db.run("DELETE FROM iam_users WHERE name_key = ?", key);
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::create_access_key(const access_key_row& k, std::size_t max_per_user) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(k.user_name);
    if (auto r = require_owner(db, "user", k.user_name); !r) return r.take_error();
    auto count = db.one("SELECT COUNT(*) FROM iam_access_keys WHERE user_key = ?", int_column, key);
    if (!count) return count.take_error();
    if (static_cast<std::size_t>(count->value_or(0)) >= max_per_user) {
      return make_error(errc::limit_exceeded,
                        "Cannot exceed quota for AccessKeysPerUser: " + std::to_string(max_per_user));
    }
    auto n = db.run(
        "INSERT INTO iam_access_keys(access_key_id, user_key, sealed_secret, status, created_at) "
        "VALUES(?, ?, ?, ?, ?)",
        k.access_key_id, key, k.sealed_secret, k.status, k.created_at);
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

#define BERTH_KEY_COLUMNS "k.access_key_id, u.name, k.sealed_secret, k.status, k.created_at"

template <class Pool>
result<std::optional<access_key_row>> sql_identity_index<Pool>::find_access_key(const std::string& access_key_id) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT " BERTH_KEY_COLUMNS
                  " FROM iam_access_keys k JOIN iam_users u ON u.name_key = k.user_key WHERE k.access_key_id = ?",
                  read_key, access_key_id);
  });
}

template <class Pool>
result<std::vector<access_key_row>> sql_identity_index<Pool>::access_keys(const std::string& user) {
  return pool_.read([&](auto& db) -> result<std::vector<access_key_row>> {
    const auto key = key_of(user);
    if (auto r = require_owner(db, "user", user); !r) return r.take_error();
    return db.all("SELECT " BERTH_KEY_COLUMNS
                  " FROM iam_access_keys k JOIN iam_users u ON u.name_key = k.user_key WHERE k.user_key = ? "
                  "ORDER BY k.access_key_id",
                  read_key, key);
  });
}

namespace {
error no_key(const std::string& id) {
  return make_error(errc::no_such_entity, "The Access Key with id " + id + " cannot be found.");
}
}  // namespace

template <class Pool>
result<void> sql_identity_index<Pool>::set_access_key_status(const std::string& user, const std::string& access_key_id,
                                                             const std::string& status) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(user);
    if (auto r = require_owner(db, "user", user); !r) return r.take_error();
    auto n = db.run("UPDATE iam_access_keys SET status = ? WHERE access_key_id = ? AND user_key = ?", status,
                    access_key_id, key);
    if (!n) return n.take_error();
    if (*n == 0) return no_key(access_key_id);
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::delete_access_key(const std::string& user, const std::string& access_key_id) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(user);
    if (auto r = require_owner(db, "user", user); !r) return r.take_error();
    auto n = db.run("DELETE FROM iam_access_keys WHERE access_key_id = ? AND user_key = ?", access_key_id, key);
    if (!n) return n.take_error();
    if (*n == 0) return no_key(access_key_id);
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::put_policy(const std::string& kind, const std::string& owner,
                                                  const named_policy& p) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(owner);
    if (auto r = require_owner(db, kind, owner); !r) return r.take_error();
    auto n = db.run(
        "INSERT INTO iam_inline_policies(owner_kind, owner_key, name, document) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(owner_kind, owner_key, name) DO UPDATE SET document = excluded.document",
        kind, key, p.name, p.document);
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<named_policy> sql_identity_index<Pool>::get_policy(const std::string& kind, const std::string& owner,
                                                          const std::string& name) {
  return pool_.read([&](auto& db) -> result<named_policy> {
    const auto key = key_of(owner);
    if (auto r = require_owner(db, kind, owner); !r) return r.take_error();
    auto doc = db.one("SELECT document FROM iam_inline_policies WHERE owner_kind = ? AND owner_key = ? AND name = ?",
                      text_column, kind, key, name);
    if (!doc) return doc.take_error();
    if (!*doc) {
      return make_error(errc::no_such_entity, "The " + std::string(kind == "group" ? "group" : "user") +
                                                  " policy with name " + name + " cannot be found.");
    }
    return named_policy{name, std::move(**doc)};
  });
}

template <class Pool>
result<std::vector<std::string>> sql_identity_index<Pool>::policy_names(const std::string& kind,
                                                                        const std::string& owner) {
  return pool_.read([&](auto& db) -> result<std::vector<std::string>> {
    const auto key = key_of(owner);
    if (auto r = require_owner(db, kind, owner); !r) return r.take_error();
    return db.all("SELECT name FROM iam_inline_policies WHERE owner_kind = ? AND owner_key = ? ORDER BY name",
                  text_column, kind, key);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::delete_policy(const std::string& kind, const std::string& owner,
                                                     const std::string& name) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(owner);
    if (auto r = require_owner(db, kind, owner); !r) return r.take_error();
    auto n =
        db.run("DELETE FROM iam_inline_policies WHERE owner_kind = ? AND owner_key = ? AND name = ?", kind, key, name);
    if (!n) return n.take_error();
    if (*n == 0) {
      return make_error(errc::no_such_entity, "The " + std::string(kind == "group" ? "group" : "user") +
                                                  " policy with name " + name + " cannot be found.");
    }
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<std::vector<std::string>> sql_identity_index<Pool>::policies_of_user(const std::string& user) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT document FROM iam_inline_policies WHERE owner_kind = 'user' AND owner_key = ? "
        "UNION ALL SELECT p.document FROM iam_inline_policies p JOIN iam_group_members m "
        "ON p.owner_kind = 'group' AND p.owner_key = m.group_key WHERE m.user_key = ?",
        text_column, key_of(user), key_of(user));
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::create_group(const group_row& g) {
  return pool_.write_access([&](auto& db) -> result<void> {
    auto n = db.run(
        "INSERT INTO iam_groups(name_key, name, path, group_id, created_at) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(name_key) DO NOTHING",
        key_of(g.name), g.name, g.path, g.group_id, g.created_at);
    if (!n) return n.take_error();
    if (*n == 0) return make_error(errc::entity_already_exists, "Group with name " + g.name + " already exists.");
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<std::optional<group_row>> sql_identity_index<Pool>::find_group(const std::string& name) {
  return pool_.read([&](auto& db) {
    return db.one("SELECT name, path, group_id, created_at FROM iam_groups WHERE name_key = ?", read_group,
                  key_of(name));
  });
}

template <class Pool>
result<std::vector<group_row>> sql_identity_index<Pool>::groups_of_user(const std::string& user) {
  return pool_.read([&](auto& db) -> result<std::vector<group_row>> {
    const auto key = key_of(user);
    if (auto r = require_owner(db, "user", user); !r) return r.take_error();
    return db.all(
        "SELECT g.name, g.path, g.group_id, g.created_at FROM iam_groups g JOIN iam_group_members m "
        "ON m.group_key = g.name_key WHERE m.user_key = ? ORDER BY g.name",
        read_group, key);
  });
}

template <class Pool>
result<std::vector<user_row>> sql_identity_index<Pool>::users_of_group(const std::string& group) {
  return pool_.read([&](auto& db) -> result<std::vector<user_row>> {
    const auto key = key_of(group);
    if (auto r = require_owner(db, "group", group); !r) return r.take_error();
    return db.all(
        "SELECT u.name, u.path, u.user_id, u.created_at, u.basic_pull FROM iam_users u JOIN iam_group_members m "
        "ON m.user_key = u.name_key WHERE m.group_key = ? ORDER BY u.name",
        read_user, key);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::add_user_to_group(const std::string& group, const std::string& user) {
  return pool_.write_access([&](auto& db) -> result<void> {
    if (auto r = require_owner(db, "group", group); !r) return r.take_error();
    if (auto r = require_owner(db, "user", user); !r) return r.take_error();
    auto n = db.run("INSERT INTO iam_group_members(group_key, user_key) VALUES(?, ?) ON CONFLICT DO NOTHING",
                    key_of(group), key_of(user));
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::remove_user_from_group(const std::string& group, const std::string& user) {
  return pool_.write_access([&](auto& db) -> result<void> {
    if (auto r = require_owner(db, "group", group); !r) return r.take_error();
    if (auto r = require_owner(db, "user", user); !r) return r.take_error();
    auto n = db.run("DELETE FROM iam_group_members WHERE group_key = ? AND user_key = ?", key_of(group), key_of(user));
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template <class Pool>
result<void> sql_identity_index<Pool>::delete_group(const std::string& name) {
  return pool_.write_access([&](auto& db) -> result<void> {
    const auto key = key_of(name);
    if (auto r = require_owner(db, "group", name); !r) return r.take_error();
    auto members = db.exists("SELECT 1 FROM iam_group_members WHERE group_key = ?", key);
    if (!members) return members.take_error();
    if (*members) return make_error(errc::delete_conflict, "Cannot delete entity, must remove users from group first.");
    auto policies = db.exists("SELECT 1 FROM iam_inline_policies WHERE owner_kind = 'group' AND owner_key = ?", key);
    if (!policies) return policies.take_error();
    if (*policies) return make_error(errc::delete_conflict, "Cannot delete entity, must delete policies first.");
    auto n = db.run("DELETE FROM iam_groups WHERE name_key = ?", key);
    if (!n) return n.take_error();
    return sql_rows::bump_access(db);
  });
}

template class sql_identity_index<connection_pool>;
template class sql_identity_index<pg_pool>;

}  // namespace berth::meta
