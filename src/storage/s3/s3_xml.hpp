// Reading S3's XML responses: the few element values Berth needs (keys, sizes, upload ids,
// ETags, error codes), found by name. S3 responses are flat, entity-escaped documents without
// attributes that matter, CDATA or comments, so no general XML parser is needed; anything else
// simply yields no values. Fuzzed (tests/fuzz/fuzz_s3_xml.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::storage::s3 {

// The raw (still escaped) contents of every <tag>…</tag> in `doc`, in order, not nested in itself.
std::vector<std::string_view> xml_elements(std::string_view doc, std::string_view tag);
// The unescaped text of the first <tag>, if any.
std::optional<std::string> xml_text(std::string_view doc, std::string_view tag);
// &amp; &lt; &gt; &quot; &apos; and numeric references (ASCII only) decoded.
std::string xml_unescape(std::string_view text);
// Escapes text for an element's content.
std::string xml_escape(std::string_view text);

}  // namespace berth::storage::s3
