// The Prometheus text exposition format (version 0.0.4): families with HELP and TYPE, samples with
// escaped label values, numbers as Prometheus parses them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace berth::observability {

using label_list = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class exposition {
 public:
  // Starts a family; `type` is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, label_list labels, double value);
  void sample(std::string_view name, label_list labels, std::uint64_t value);
  void sample(std::string_view name, label_list labels, std::int64_t value);
  // A histogram bucket: the labels, then le="bound" ("+Inf" for the last).
  void bucket(std::string_view name, label_list labels, std::string_view le, std::uint64_t value);
  const std::string& text() const { return out_; }

 private:
  void start(std::string_view name, label_list labels, std::string_view le);
  std::string out_;
};

// A label value (or HELP text) as the format escapes it: backslash, double quote, line feed.
std::string escape_label_value(std::string_view v);
// A double as Prometheus reads it: shortest round-trip form, NaN, +Inf, -Inf.
std::string format_value(double v);
// A histogram bound, in plain decimals (0.0005, not 5e-04), as client libraries write them.
std::string format_bound(double v);

}  // namespace berth::observability
