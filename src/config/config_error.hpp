// What the configuration's pieces share (not a public header): the error every refusal is.
#pragma once

#include <string>

#include "berth/core/error.hpp"

namespace berth::config {

inline error bad(std::string message) { return make_error(errc::internal, std::move(message)); }

}  // namespace berth::config
