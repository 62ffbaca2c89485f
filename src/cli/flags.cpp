#include "berth/cli/flags.hpp"

namespace berth::cli {

result<parsed_flags> parse_flags(const std::vector<std::string>& args, std::initializer_list<const char*> valued,
                                 std::initializer_list<const char*> booleans, const std::string& command) {
  parsed_flags out;
  auto bad = [&](const std::string& m) {
    return make_error(errc::invalid_parameter, m + " (see berth " + command + " --help)");
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
      return out;
    }
    if (!a.starts_with("--")) return bad("unexpected argument '" + a + "'");
    auto name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    bool is_bool = false, is_valued = false;
    for (auto b : booleans) is_bool = is_bool || name == b;
    for (auto v : valued) is_valued = is_valued || name == v;
    if (is_bool) {
      if (has_value) return bad("option --" + name + " takes no value");
      out.values[name] = "true";
    } else if (is_valued) {
      if (!has_value) {
        if (i + 1 >= args.size()) return bad("option --" + name + " needs a value");
        value = args[++i];
      }
      out.values[name] = value;
    } else {
      return bad("unknown option --" + name);
    }
  }
  return out;
}

result<bool> json_wanted(const config::flag_map& flags) {
  auto it = flags.find("output");
  if (it == flags.end() || it->second == "text") return false;
  if (it->second == "json") return true;
  return make_error(errc::internal, "--output must be text or json");
}

}  // namespace berth::cli
