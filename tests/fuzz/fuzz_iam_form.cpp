// The AWS Query form body (IAM/STS requests): decoding never crashes, stays within the parameter
// bound, and a PolicyDocument it yields goes through the identity policy parser as PutUserPolicy's
// would.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "berth/iam/form_body.hpp"
#include "berth/policy/policy_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto form = berth::iam::parse_form(body);
  if (!form) return 0;
  if (form->size() > berth::iam::max_form_parameters) std::abort();
  if (auto it = form->find("PolicyDocument"); it != form->end()) {
    (void)berth::policy::parse(it->second, berth::policy::document_kind::identity);
  }
  return 0;
}
