// The one table from domain errors to V2 wire errors (code + HTTP status), and their serialization.
#pragma once

#include <string_view>

#include "berth/core/error.hpp"
#include "berth/http/message.hpp"

namespace berth::oci {

struct wire_code {
  std::string_view code;
  unsigned status;
};

wire_code wire_code_for(errc e);

// {"errors":[{"code","message","detail"}]} with the status of the table.
http::response error_response(const error& e);
http::response error_response(errc code, std::string message);

}  // namespace berth::oci
