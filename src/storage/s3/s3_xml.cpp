#include "s3_xml.hpp"

#include <charconv>

namespace berth::storage::s3 {

std::vector<std::string_view> xml_elements(std::string_view doc, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  std::size_t at = 0;
  while (true) {
    auto start = doc.find(open, at);
    if (start == std::string_view::npos) break;
    auto after = start + open.size();
    if (after >= doc.size()) break;
    // <Tag> or <Tag attr="…">, not <TagLonger>; <Tag/> is empty.
    if (doc[after] != '>' && doc[after] != ' ' && doc[after] != '/') {
      at = after;
      continue;
    }
    auto gt = doc.find('>', after);
    if (gt == std::string_view::npos) break;
    if (doc[gt - 1] == '/') {
      out.push_back(doc.substr(gt, 0));  // empty, but inside the document like every other value
      at = gt + 1;
      continue;
    }
    auto end = doc.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(doc.substr(gt + 1, end - gt - 1));
    at = end + close.size();
  }
  return out;
}

std::optional<std::string> xml_text(std::string_view doc, std::string_view tag) {
  auto all = xml_elements(doc, tag);
  if (all.empty()) return std::nullopt;
  return xml_unescape(all.front());
}

std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    auto semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    auto name = text.substr(i + 1, semi - i - 1);
    char c = 0;
    if (name == "amp")
      c = '&';
    else if (name == "lt")
      c = '<';
    else if (name == "gt")
      c = '>';
    else if (name == "quot")
      c = '"';
    else if (name == "apos")
      c = '\'';
    else if (name.size() > 1 && name[0] == '#') {
      unsigned value = 0;
      const bool hex = name[1] == 'x' || name[1] == 'X';
      auto digits = name.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
      if (ec == std::errc() && p == digits.data() + digits.size() && value > 0 && value < 128) {
        c = static_cast<char>(value);
      }
    }
    if (c == 0) {
      out.push_back('&');
      continue;
    }
    out.push_back(c);
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace berth::storage::s3
