#include "shape_validator.hpp"

#include <map>
#include <mutex>
#include <regex>

#include "berth/auth/login_token.hpp"

namespace berth::ecr {
namespace {

#include "ecr_model.inc"

using json = nlohmann::json;

error constraint(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_parameter,
                    "Invalid parameter at '" + path + "' failed to satisfy constraint: '" + what + "'");
}

error wrong_type(const std::string& path, const char* expected) {
  // The JSON protocol's answer to a value of the wrong type.
  return make_error(errc::malformed_request, std::string("Expected ") + expected + " at '" + path + "'");
}

constexpr std::size_t max_pattern_input = 4096;

// UTF-8 code points, as the model's lengths count characters.
std::size_t char_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

const std::regex& compiled(const std::string& pattern) {
  static std::mutex m;
  static std::map<std::string, std::regex> cache;
  std::lock_guard lock(m);
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
  return it->second;
}

}  // namespace

const shape_validator& shape_validator::instance() {
  static const shape_validator v;
  return v;
}

shape_validator::shape_validator() {
  std::string text;
  for (const char* chunk : ecr_model_chunks) text += chunk;
  model_ = json::parse(text);
}

bool shape_validator::has_operation(const std::string& op) const { return model_["operations"].contains(op); }

result<void> shape_validator::validate(const std::string& op, const json& input) const {
  const auto& shape = model_["operations"][op].get_ref<const std::string&>();
  if (shape.empty()) return {};
  return check(shape, input, "");
}

result<void> shape_validator::check(const std::string& shape_name, const json& v, const std::string& path) const {
  const auto& shape = model_["shapes"][shape_name];
  const auto& type = shape["type"].get_ref<const std::string&>();
  const std::string where = path.empty() ? shape_name : path;
  if (type == "structure") {
    if (!v.is_object()) return wrong_type(where, "an object");
    if (auto req = shape.find("required"); req != shape.end()) {
      for (const auto& r : *req) {
        const auto& name = r.get_ref<const std::string&>();
        auto it = v.find(name);
        if (it == v.end() || it->is_null()) {
          return constraint(path.empty() ? name : path + "." + name, "must not be null");
        }
      }
    }
    const auto& members = shape["members"];
    for (const auto& [name, value] : v.items()) {
      auto m = members.find(name);
      if (m == members.end() || value.is_null()) continue;  // unknown members are ignored, as AWS does
      if (auto r = check(m->get<std::string>(), value, path.empty() ? name : path + "." + name); !r) return r;
    }
    return {};
  }
  if (type == "list") {
    if (!v.is_array()) return wrong_type(where, "a list");
    if (auto mn = shape.find("min"); mn != shape.end() && v.size() < mn->get<std::size_t>()) {
      return constraint(where, "must have length greater than or equal to " + std::to_string(mn->get<std::size_t>()));
    }
    if (auto mx = shape.find("max"); mx != shape.end() && v.size() > mx->get<std::size_t>()) {
      return constraint(where, "must have length less than or equal to " + std::to_string(mx->get<std::size_t>()));
    }
    std::size_t i = 0;
    for (const auto& e : v) {
      ++i;
      if (auto r = check(shape["member"].get<std::string>(), e, where + "." + std::to_string(i) + ".member"); !r)
        return r;
    }
    return {};
  }
  if (type == "map") {
    if (!v.is_object()) return wrong_type(where, "a map");
    return {};
  }
  if (type == "string") {
    if (!v.is_string()) return wrong_type(where, "a string");
    const auto& s = v.get_ref<const std::string&>();
    auto len = char_length(s);
    if (auto mn = shape.find("min"); mn != shape.end() && len < mn->get<std::size_t>()) {
      return constraint(where, "must have length greater than or equal to " + std::to_string(mn->get<std::size_t>()));
    }
    if (auto mx = shape.find("max"); mx != shape.end() && len > mx->get<std::size_t>()) {
      return constraint(where, "must have length less than or equal to " + std::to_string(mx->get<std::size_t>()));
    }
    if (auto en = shape.find("enum"); en != shape.end()) {
      bool ok = false;
      std::string set;
      for (const auto& e : *en) {
        ok = ok || e == s;
        set += (set.empty() ? "" : ", ") + e.get<std::string>();
      }
      if (!ok) return constraint(where, "must satisfy enum value set: [" + set + "]");
    }
    if (auto pat = shape.find("pattern"); pat != shape.end()) {
      // std::regex recurses per character: a value far longer than any real one would exhaust the
      // stack, and cannot be one anyway.
      if (s.size() > max_pattern_input || !std::regex_match(s, compiled(pat->get<std::string>()))) {
        return constraint(where, "must satisfy regular expression '" + pat->get<std::string>() + "'");
      }
    }
    return {};
  }
  if (type == "integer" || type == "long") {
    if (!v.is_number_integer()) return wrong_type(where, "an integer");
    auto n = v.get<std::int64_t>();
    if (auto mn = shape.find("min"); mn != shape.end() && n < mn->get<std::int64_t>()) {
      return constraint(where, "must have value greater than or equal to " + std::to_string(mn->get<std::int64_t>()));
    }
    if (auto mx = shape.find("max"); mx != shape.end() && n > mx->get<std::int64_t>()) {
      return constraint(where, "must have value less than or equal to " + std::to_string(mx->get<std::int64_t>()));
    }
    return {};
  }
  if (type == "boolean") {
    if (!v.is_boolean()) return wrong_type(where, "a boolean");
    return {};
  }
  if (type == "timestamp") {
    if (!v.is_number()) return wrong_type(where, "a timestamp in epoch seconds");
    return {};
  }
  if (type == "blob") {
    if (!v.is_string()) return wrong_type(where, "a base64 string");
    const auto& text = v.get_ref<const std::string&>();
    std::size_t padding = 0;
    for (auto it = text.rbegin(); it != text.rend() && *it == '=' && padding < 2; ++it) ++padding;
    const std::size_t decoded = text.size() / 4 * 3 + (text.size() % 4 ? text.size() % 4 - 1 : 0) - padding;
    if (auto mx = shape.find("max"); mx != shape.end() && decoded > mx->get<std::size_t>()) {
      return constraint(where, "must have length less than or equal to " + std::to_string(mx->get<std::size_t>()));
    }
    return {};
  }
  return {};
}

}  // namespace berth::ecr
