// Every errc as the Secrets Manager exception botocore maps it to (private header).
#pragma once

#include <string_view>

#include "berth/core/error.hpp"

namespace berth::secrets {

struct secrets_exception {
  std::string_view type;
  unsigned status;
};

secrets_exception exception_for(errc code);

}  // namespace berth::secrets
