// Validation of everything a client names: repositories, tags, references, upload ids.
// Nothing reaches storage unless it passed one of these checks.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "berth/core/digest.hpp"

namespace berth {

inline constexpr std::size_t max_repository_name_length = 255;

// OCI: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
bool is_valid_repository_name(std::string_view name);
// OCI: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool is_valid_tag(std::string_view tag);
// Upload session ids are ours: a lower-case RFC 4122 UUID.
bool is_valid_upload_id(std::string_view id);
std::string new_upload_id();
// `n` characters drawn uniformly from `alphabet` (cryptographic randomness): identifiers and secrets.
std::string random_text(std::string_view alphabet, std::size_t n);

// A manifest reference is either a tag or a digest.
using reference = std::variant<std::string, digest>;
result<reference> parse_reference(std::string_view text);

}  // namespace berth
