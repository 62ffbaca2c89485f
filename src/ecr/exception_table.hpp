// The one table from domain errors to ECR exceptions: the `__type` a client sees and its HTTP status.
#pragma once

#include <string_view>

#include "berth/core/error.hpp"

namespace berth::ecr {

struct exception_kind {
  std::string_view type;  // e.g. "RepositoryNotFoundException"
  unsigned status;        // 400 for client errors, 500 for ServerException
};

exception_kind exception_for(errc code);

}  // namespace berth::ecr
