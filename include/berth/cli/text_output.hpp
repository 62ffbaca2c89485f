// How the command line writes numbers for people: counted nouns ("1 image", "2 images"), sizes in
// binary units ("1.5 MiB"), and times as UTC ISO 8601.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::cli {

std::string counted(std::uint64_t n, std::string_view one, std::string_view many);
std::string human_size(std::uint64_t bytes);
std::string utc_time(std::int64_t seconds);  // "-" for 0 (never)

}  // namespace berth::cli
