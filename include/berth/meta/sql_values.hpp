// What both SQL drivers (sqlite_connection, pg_connection) share: argument wrappers for the query
// helper and the row readers every role uses. A row reader takes any row with int64/boolean/text/
// blob/is_null accessors, so one reader serves both dialects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::meta {

// Argument wrappers: text that is NULL when empty, and bytes stored as a BLOB / BYTEA.
struct nullable_text {
  std::string_view text;
};
struct blob_value {
  std::string_view bytes;
};
inline nullable_text or_null(std::string_view s) { return {s}; }
inline blob_value as_blob(std::string_view s) { return {s}; }

// Row readers for the helper: the first column as text or as an integer.
inline constexpr auto text_column = [](const auto& row) -> std::string { return row.text(0); };
inline constexpr auto int_column = [](const auto& row) -> std::int64_t { return row.int64(0); };

}  // namespace berth::meta
