// ECR's wildcard filters (tag mutability exclusions, lifecycle tagPatternList): '*' matches any run
// of characters, everything else itself.
#pragma once

#include <string_view>

namespace berth {

bool wildcard_match(std::string_view pattern, std::string_view text);

}  // namespace berth
