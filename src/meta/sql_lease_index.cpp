// Leases on SQLite: one row per duty, taken over once its holder stops renewing it.
#include "sqlite_roles.hpp"

namespace berth::meta {

result<bool> sqlite_lease_index::acquire(const std::string& name, const std::string& holder, std::int64_t now,
                                         std::int64_t until) {
  return pool_.write([&](sqlite_connection& db) -> result<bool> {
    auto n = db.run(
        "INSERT INTO leases(name, holder, expires_at) VALUES(?1, ?2, ?4) ON CONFLICT(name) DO UPDATE "
        "SET holder = excluded.holder, expires_at = excluded.expires_at "
        "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3",
        name, holder, now, until);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

result<void> sqlite_lease_index::release(const std::string& name, const std::string& holder) {
  return pool_.write([&](sqlite_connection& db) -> result<void> {
    auto n = db.run("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder);
    if (!n) return n.take_error();
    return {};
  });
}

}  // namespace berth::meta
