// Every errc as the Query API's <Error>: code, HTTP status, Sender or Receiver.
#pragma once

#include <string_view>

#include "berth/core/error.hpp"

namespace berth::iam {

struct query_error_kind {
  std::string_view code;
  unsigned status;
  bool sender = true;
};

query_error_kind query_error_for(errc code);

}  // namespace berth::iam
