#include "berth/core/byte_range.hpp"

#include <charconv>

namespace berth {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

result<std::optional<byte_range>> parse_range_header(std::string_view header, std::uint64_t size) {
  std::optional<byte_range> none;
  header = trim(header);
  if (!header.starts_with("bytes=")) return none;
  auto spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return none;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  auto a = trim(spec.substr(0, dash));
  auto b = trim(spec.substr(dash + 1));
  auto unsatisfiable = make_error(errc::range_invalid, "requested range not satisfiable");
  if (a.empty()) {  // suffix range: the last N bytes
    auto n = parse_u64(b);
    if (!n) return none;
    if (*n == 0 || size == 0) return unsatisfiable;
    std::uint64_t len = *n > size ? size : *n;
    return std::optional<byte_range>(byte_range{size - len, size - 1});
  }
  auto first = parse_u64(a);
  if (!first) return none;
  std::uint64_t last;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else {
    auto l = parse_u64(b);
    if (!l) return none;
    last = *l;
    if (last < *first) return unsatisfiable;
  }
  if (*first >= size) return unsatisfiable;
  if (last >= size) last = size - 1;
  return std::optional<byte_range>(byte_range{*first, last});
}

std::optional<byte_range> parse_content_range(std::string_view header) {
  header = trim(header);
  if (header.starts_with("bytes=") || header.starts_with("bytes ")) header = trim(header.substr(6));
  if (auto slash = header.find('/'); slash != std::string_view::npos) header = header.substr(0, slash);
  auto dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = parse_u64(header.substr(0, dash));
  auto last = parse_u64(header.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return byte_range{*first, *last};
}

}  // namespace berth
