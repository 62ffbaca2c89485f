// Parsers for the Range header of blob GETs and the Content-Range header of upload PATCHes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "berth/core/error.hpp"

namespace berth {

struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const { return last - first + 1; }
  friend bool operator==(const byte_range&, const byte_range&) = default;
};

// RFC 9110 single byte range against a resource of `size` bytes.
// nullopt: no usable Range (absent, malformed or multi-range) → serve the whole body.
// error range_invalid: syntactically valid but unsatisfiable → 416.
result<std::optional<byte_range>> parse_range_header(std::string_view header, std::uint64_t size);

// Upload Content-Range: "start-end" (inclusive), optionally prefixed "bytes " / "bytes=" and
// suffixed "/total" or "/*", as clients send it in the wild.
std::optional<byte_range> parse_content_range(std::string_view header);

}  // namespace berth
