// Leases in SQL: one row per duty, taken over once its holder stops renewing it.
#include "sql_roles.hpp"

namespace berth::meta {

template <class Pool>
result<bool> sql_lease_index<Pool>::acquire(const std::string& name, const std::string& holder, std::int64_t now,
                                            std::int64_t until) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n = db.run(
        "INSERT INTO leases(name, holder, expires_at) VALUES(?1, ?2, ?4) ON CONFLICT(name) DO UPDATE "
        "SET holder = excluded.holder, expires_at = excluded.expires_at "
        "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3",
        name, holder, now, until);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<void> sql_lease_index<Pool>::release(const std::string& name, const std::string& holder) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder);
    if (!n) return n.take_error();
    return {};
  });
}

template class sql_lease_index<connection_pool>;
template class sql_lease_index<pg_pool>;

}  // namespace berth::meta
