// The registry's secrets in SQL: a row per name, never overwritten.
#include "sql_roles.hpp"

namespace berth::meta {

template <class Pool>
result<std::optional<std::string>> sql_secret_index<Pool>::get(const std::string& name) {
  return pool_.read([&](auto& db) {
    return db.one(
        "SELECT value FROM secrets WHERE name = ?", [](const auto& s) { return s.blob(0); }, name);
  });
}

template <class Pool>
result<std::string> sql_secret_index<Pool>::put_if_absent(const std::string& name, const std::string& value,
                                                          std::int64_t now) {
  return pool_.write([&](auto& db) -> result<std::string> {
    auto n = db.run("INSERT INTO secrets(name, value, created_at) VALUES(?, ?, ?) ON CONFLICT(name) DO NOTHING", name,
                    as_blob(value), now);
    if (!n) return n.take_error();
    auto stored = db.one(
        "SELECT value FROM secrets WHERE name = ?", [](const auto& s) { return s.blob(0); }, name);
    if (!stored) return stored.take_error();
    if (!*stored) return make_error(errc::internal, "secret " + name + " vanished while being stored");
    return std::move(**stored);
  });
}

template class sql_secret_index<connection_pool>;
template class sql_secret_index<pg_pool>;

}  // namespace berth::meta
