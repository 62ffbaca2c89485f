#include "berth/iam/form_body.hpp"

#include "berth/http/message.hpp"

namespace berth::iam {

result<form> parse_form(std::string_view body) {
  form out;
  std::size_t n = 0;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    if (++n > max_form_parameters) return make_error(errc::malformed_request, "Too many parameters in the request");
    auto eq = pair.find('=');
    auto key = http::percent_decode(pair.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::string{} : http::percent_decode(pair.substr(eq + 1), true);
    out[std::move(key)] = std::move(value);
  }
  return out;
}

}  // namespace berth::iam
