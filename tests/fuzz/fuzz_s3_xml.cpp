// S3 XML responses (listings, multipart answers, errors) as an object store might send them:
// the reader never crashes, and what it returns lies inside the document.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../src/storage/s3/s3_client.hpp"
#include "../../src/storage/s3/s3_xml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string doc(reinterpret_cast<const char*>(data), size);
  using namespace berth::storage::s3;
  for (auto item : xml_elements(doc, "Contents")) {
    if (item.data() < doc.data() || item.data() + item.size() > doc.data() + doc.size()) __builtin_trap();
    auto key = xml_text(item, "Key");
    if (key && key->size() > item.size()) __builtin_trap();
    (void)parse_iso8601(xml_text(item, "LastModified").value_or(""));
  }
  for (auto item : xml_elements(doc, "Part")) (void)xml_text(item, "ETag");
  berth::http::client_response r;
  r.status = 500;
  r.body = doc;
  (void)s3_error("Fuzz", r);
  return 0;
}
