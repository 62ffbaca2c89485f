// The event outbox in SQL (SQLite and PostgreSQL). Events that announce a change are inserted by
// that change's own statement (sql_image_index), with insert_events.
#include "sql_roles.hpp"

namespace berth::meta {
namespace {

constexpr auto read_event = [](const auto& s) {
  event_row r;
  r.id = s.int64(0);
  r.event = outbox_event{s.text(1), s.text(2), s.text(3), s.text(4)};
  r.created_at = s.int64(5);
  r.attempts = s.int64(6);
  return r;
};

}  // namespace

template <class Pool>
result<void> sql_event_index<Pool>::add(const std::vector<outbox_event>& events, std::int64_t now) {
  if (events.empty()) return {};
  return pool_.write([&](auto& db) { return sql_rows::insert_events(db, events, now); });
}

// Only the first event of a (webhook, repository) may go: while it is held or waits for its next
// attempt, the ones behind it wait too. Claiming is a conditional update, so two servers that
// read the same row cannot both take it.
template <class Pool>
result<std::optional<event_row>> sql_event_index<Pool>::claim_next(const std::string& holder, std::int64_t now,
                                                                   std::int64_t until) {
  return pool_.write([&](auto& db) -> result<std::optional<event_row>> {
    auto row = db.one(
        "SELECT o.id, o.webhook, o.repository, o.event_id, o.body, o.created_at, o.attempts FROM event_outbox o "
        "WHERE o.next_at <= ? AND o.held_until < ? AND o.id = (SELECT MIN(p.id) FROM event_outbox p "
        "WHERE p.webhook = o.webhook AND p.repository = o.repository) ORDER BY o.id LIMIT 1",
        read_event, now, now);
    if (!row || !*row) return row;
    auto n = db.run("UPDATE event_outbox SET holder = ?, held_until = ? WHERE id = ? AND held_until < ?", holder, until,
                    (*row)->id, now);
    if (!n) return n.take_error();
    if (*n == 0) return std::optional<event_row>();
    return row;
  });
}

template <class Pool>
result<void> sql_event_index<Pool>::remove(std::int64_t id) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("DELETE FROM event_outbox WHERE id = ?", id);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_event_index<Pool>::retry(std::int64_t id, std::int64_t next_at, const std::string& error) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run(
        "UPDATE event_outbox SET attempts = attempts + 1, next_at = ?, last_error = ?, holder = '', held_until = 0 "
        "WHERE id = ?",
        next_at, error, id);
    if (!n) return n.take_error();
    return {};
  });
}

template <class Pool>
result<void> sql_event_index<Pool>::release(const std::string& holder) {
  return pool_.write([&](auto& db) -> result<void> {
    auto n = db.run("UPDATE event_outbox SET holder = '', held_until = 0 WHERE holder = ?", holder);
    if (!n) return n.take_error();
    return {};
  });
}

template class sql_event_index<connection_pool>;
template class sql_event_index<pg_pool>;

}  // namespace berth::meta
