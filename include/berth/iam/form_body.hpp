// The body of an AWS Query request: application/x-www-form-urlencoded pairs ('+' is a space),
// decoded into a map (a repeated name keeps its last value), at most 1000 of them.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "berth/core/error.hpp"

namespace berth::iam {

using form = std::map<std::string, std::string, std::less<>>;

inline constexpr std::size_t max_form_parameters = 1000;

// errc::malformed_request past max_form_parameters.
result<form> parse_form(std::string_view body);

}  // namespace berth::iam
