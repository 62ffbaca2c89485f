#include "condition_operators.hpp"

#include "berth/core/wildcard.hpp"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

namespace berth::policy {
namespace {

struct operator_entry {
  std::string_view name;
  operator_family family;
  bool negated;
};

constexpr std::array<operator_entry, 27> operators = {{
    {"StringEquals", operator_family::string, false},
    {"StringNotEquals", operator_family::string, true},
    {"StringEqualsIgnoreCase", operator_family::string, false},
    {"StringNotEqualsIgnoreCase", operator_family::string, true},
    {"StringLike", operator_family::string, false},
    {"StringNotLike", operator_family::string, true},
    {"NumericEquals", operator_family::numeric, false},
    {"NumericNotEquals", operator_family::numeric, true},
    {"NumericLessThan", operator_family::numeric, false},
    {"NumericLessThanEquals", operator_family::numeric, false},
    {"NumericGreaterThan", operator_family::numeric, false},
    {"NumericGreaterThanEquals", operator_family::numeric, false},
    {"DateEquals", operator_family::date, false},
    {"DateNotEquals", operator_family::date, true},
    {"DateLessThan", operator_family::date, false},
    {"DateLessThanEquals", operator_family::date, false},
    {"DateGreaterThan", operator_family::date, false},
    {"DateGreaterThanEquals", operator_family::date, false},
    {"Bool", operator_family::boolean, false},
    {"BinaryEquals", operator_family::binary, false},
    {"IpAddress", operator_family::ip, false},
    {"NotIpAddress", operator_family::ip, true},
    {"ArnEquals", operator_family::arn, false},
    {"ArnLike", operator_family::arn, false},
    {"ArnNotEquals", operator_family::arn, true},
    {"ArnNotLike", operator_family::arn, true},
    {"Null", operator_family::null, false},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::optional<double> number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct address {
  int family = 0;  // AF_INET or AF_INET6
  std::array<unsigned char, 16> bytes{};
};

std::optional<address> parse_address(std::string_view text) {
  std::string s(text);
  address a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address.
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), mapped, 12) == 0) {
      std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
      a.family = AF_INET;
    }
    return a;
  }
  return std::nullopt;
}

bool in_network(std::string_view cidr, std::string_view ip) {
  auto slash = cidr.find('/');
  auto net = parse_address(cidr.substr(0, slash));
  auto addr = parse_address(ip);
  if (!net || !addr || net->family != addr->family) return false;
  const int width = net->family == AF_INET ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    auto p = digits(cidr.substr(slash + 1));
    if (!p || *p < 0 || *p > width) return false;
    prefix = static_cast<int>(*p);
  }
  for (int bit = 0; bit < prefix; ++bit) {
    const unsigned char mask = static_cast<unsigned char>(0x80u >> (bit % 8));
    if ((net->bytes[bit / 8] & mask) != (addr->bytes[bit / 8] & mask)) return false;
  }
  return true;
}

// ARNs compare component by component: a wildcard never spans a ':'.
bool arn_match(std::string_view pattern, std::string_view arn) {
  for (int field = 0; field < 5; ++field) {
    auto pc = pattern.find(':');
    auto ac = arn.find(':');
    if (pc == std::string_view::npos || ac == std::string_view::npos) return false;
    if (!glob_match(pattern.substr(0, pc), arn.substr(0, ac))) return false;
    pattern.remove_prefix(pc + 1);
    arn.remove_prefix(ac + 1);
  }
  return glob_match(pattern, arn);
}

}  // namespace

std::optional<parsed_operator> parse_operator(std::string_view name) {
  parsed_operator out;
  for (auto [prefix, q] : {std::pair{std::string_view("ForAllValues:"), set_qualifier::for_all_values},
                           std::pair{std::string_view("ForAnyValue:"), set_qualifier::for_any_value}}) {
    if (name.substr(0, prefix.size()) == prefix) {
      out.qualifier = q;
      name.remove_prefix(prefix.size());
      break;
    }
  }
  constexpr std::string_view suffix = "IfExists";
  if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
    out.if_exists = true;
    name.remove_suffix(suffix.size());
  }
  for (const auto& e : operators) {
    if (e.name == name) {
      // Null tests presence itself: "NullIfExists" means nothing.
      if (e.family == operator_family::null && out.if_exists) return std::nullopt;
      out.base = std::string(e.name);
      out.family = e.family;
      out.negated = e.negated;
      return out;
    }
  }
  return std::nullopt;
}

bool glob_match(std::string_view p, std::string_view t, bool ignore_case, const std::vector<bool>* literal) {
  return berth::glob_match(p, t, true, ignore_case, literal);
}

std::optional<std::int64_t> parse_time(std::string_view s) {
  if (s.find('-') == std::string_view::npos && s.find_first_of("tT") == std::string_view::npos) {
    auto v = digits(s);
    if (!v || *v < 0) return std::nullopt;
    return v;
  }
  // YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH[:MM]]
  auto field = [&](std::size_t at, std::size_t len) -> std::optional<std::int64_t> {
    if (s.size() < at + len) return std::nullopt;
    for (std::size_t i = at; i < at + len; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    }
    return digits(s.substr(at, len));
  };
  auto y = field(0, 4), mo = field(5, 2), d = field(8, 2);
  if (!y || !mo || !d || s[4] != '-' || s[7] != '-' || *mo < 1 || *mo > 12 || *d < 1 || *d > 31) return std::nullopt;
  std::int64_t seconds = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d)) * 86400;
  std::size_t i = 10;
  if (i == s.size()) return seconds;
  if (s[i] != 'T' && s[i] != 't') return std::nullopt;
  auto h = field(i + 1, 2), mi = field(i + 4, 2);
  if (!h || !mi || s.size() < i + 6 || s[i + 3] != ':' || *h > 23 || *mi > 59) return std::nullopt;
  seconds += *h * 3600 + *mi * 60;
  i += 6;
  if (i < s.size() && s[i] == ':') {
    auto sec = field(i + 1, 2);
    if (!sec || *sec > 59) return std::nullopt;
    seconds += *sec;
    i += 3;
    if (i < s.size() && s[i] == '.') {
      ++i;
      const auto from = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i == from) return std::nullopt;
    }
  }
  if (i == s.size()) return seconds;
  if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size() ? std::optional<std::int64_t>(seconds) : std::nullopt;
  if (s[i] != '+' && s[i] != '-') return std::nullopt;
  const int sign = s[i] == '+' ? 1 : -1;
  auto oh = field(i + 1, 2);
  if (!oh || *oh > 23) return std::nullopt;
  std::int64_t offset = *oh * 3600;
  i += 3;
  if (i < s.size()) {
    auto om = s[i] == ':' ? field(i + 1, 2) : std::nullopt;
    if (!om || *om > 59 || i + 3 != s.size()) return std::nullopt;
    offset += *om * 60;
  }
  return seconds - sign * offset;
}

bool positive_match(std::string_view op, const pattern_text& pattern, std::string_view value) {
  const std::string_view policy = pattern.text;
  if (op == "StringEquals" || op == "StringNotEquals" || op == "BinaryEquals") return policy == value;
  if (op == "StringEqualsIgnoreCase" || op == "StringNotEqualsIgnoreCase") return iequals(policy, value);
  if (op == "StringLike" || op == "StringNotLike") return glob_match(policy, value, false, &pattern.literal);
  if (op == "Bool") return iequals(policy, value);
  if (op == "IpAddress" || op == "NotIpAddress") return in_network(policy, value);
  if (op == "ArnEquals" || op == "ArnLike" || op == "ArnNotEquals" || op == "ArnNotLike") {
    // No literal mask here: the names and ids a variable puts in an ARN cannot hold '*' or '?'.
    return arn_match(policy, value);
  }
  if (op.substr(0, 7) == "Numeric") {
    auto p = number(policy), v = number(value);
    if (!p || !v) return false;
    if (op == "NumericEquals" || op == "NumericNotEquals") return *v == *p;
    if (op == "NumericLessThan") return *v < *p;
    if (op == "NumericLessThanEquals") return *v <= *p;
    if (op == "NumericGreaterThan") return *v > *p;
    if (op == "NumericGreaterThanEquals") return *v >= *p;
    return false;
  }
  if (op.substr(0, 4) == "Date") {
    auto p = parse_time(policy), v = parse_time(value);
    if (!p || !v) return false;
    if (op == "DateEquals" || op == "DateNotEquals") return *v == *p;
    if (op == "DateLessThan") return *v < *p;
    if (op == "DateLessThanEquals") return *v <= *p;
    if (op == "DateGreaterThan") return *v > *p;
    if (op == "DateGreaterThanEquals") return *v >= *p;
    return false;
  }
  return false;  // Null is decided by presence, in the evaluator
}

}  // namespace berth::policy
