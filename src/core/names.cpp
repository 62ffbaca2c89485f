#include "berth/core/names.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace berth {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: alnum runs joined by '.', '_', '__' or any number of '-'.
bool is_valid_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    auto sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

}  // namespace

bool is_valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > max_repository_name_length) return false;
  std::size_t start = 0;
  for (;;) {
    auto slash = name.find('/', start);
    auto comp = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!is_valid_component(comp)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag[0])) return false;
  for (char c : tag.substr(1)) {
    if (!(word(c) || c == '.' || c == '-')) return false;
  }
  return true;
}

bool is_valid_upload_id(std::string_view id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::string random_text(std::string_view alphabet, std::size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  std::string out;
  // Rejection sampling: every character equally likely.
  const unsigned limit = 256 - 256 % alphabet.size();
  while (out.size() < n) {
    for (unsigned char c : bytes) {
      if (c < limit && out.size() < n) out.push_back(alphabet[c % alphabet.size()]);
    }
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
  }
  return out;
}

std::string new_upload_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(hex[b[i] >> 4]);
    s.push_back(hex[b[i] & 0xf]);
  }
  return s;
}

result<reference> parse_reference(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto d = digest::parse(text);
    if (!d) return d.take_error();
    return reference(std::move(d).value());
  }
  if (!is_valid_tag(text)) return make_error(errc::tag_invalid, "invalid tag");
  return reference(std::string(text));
}

}  // namespace berth
