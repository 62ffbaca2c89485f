#include "berth/observability/exposition.hpp"

#include <charconv>
#include <cmath>

namespace berth::observability {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::string("NaN");
}

std::string format_bound(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, p) : format_value(v);
}

void exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  // HELP escapes backslash and line feed only.
  for (char c : help) {
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void exposition::start(std::string_view name, label_list labels, std::string_view le) {
  out_ += name;
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void exposition::sample(std::string_view name, label_list labels, double value) {
  start(name, labels, {});
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void exposition::sample(std::string_view name, label_list labels, std::uint64_t value) {
  start(name, labels, {});
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void exposition::sample(std::string_view name, label_list labels, std::int64_t value) {
  start(name, labels, {});
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void exposition::bucket(std::string_view name, label_list labels, std::string_view le, std::uint64_t value) {
  start(name, labels, le);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

}  // namespace berth::observability
