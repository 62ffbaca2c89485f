// A minimal XML writer for Query API responses: elements and escaped text, nothing else.
#pragma once

#include <string>
#include <string_view>

namespace berth::iam {

class xml_writer {
 public:
  xml_writer& open(std::string_view name) {
    out_ += '<';
    out_ += name;
    out_ += '>';
    return *this;
  }
  xml_writer& close(std::string_view name) {
    out_ += "</";
    out_ += name;
    out_ += '>';
    return *this;
  }
  xml_writer& leaf(std::string_view name, std::string_view text) {
    open(name);
    escape(text);
    return close(name);
  }
  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  // Text content: quotes need no escaping outside attributes (IAM's messages quote names with ').
  void escape(std::string_view text) {
    for (char c : text) {
      switch (c) {
        case '<': out_ += "&lt;"; break;
        case '>': out_ += "&gt;"; break;
        case '&': out_ += "&amp;"; break;
        default: out_ += c;
      }
    }
  }
  std::string out_;
};

}  // namespace berth::iam
