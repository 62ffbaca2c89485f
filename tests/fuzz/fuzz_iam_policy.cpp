// The IAM policy parser for each kind of document and, for documents it accepts, the evaluator
// against requests that exercise every condition family (absent keys, multi-valued keys, variables).
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/policy/policy_document.hpp"
#include "berth/policy/policy_evaluator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace berth::policy;
  std::string text(reinterpret_cast<const char*>(data), size);
  for (auto kind : {document_kind::identity, document_kind::repository, document_kind::registry}) {
    auto doc = parse(text, kind);
    if (!doc) continue;
    request_context named;
    named.action = "ecr:PutImage";
    named.resource = "arn:aws:ecr:us-east-1:123456789012:repository/team/app";
    named.principal_arn = "arn:aws:iam::123456789012:user/ci";
    named.account = "123456789012";
    named.set("aws:username", "ci");
    named.set("aws:SourceIp", "10.1.2.3");
    named.set("aws:SecureTransport", "false");
    named.set("aws:CurrentTime", "2026-12-01T10:00:00Z");
    named.set("aws:TagKeys", std::vector<std::string>{"team", "cost"});
    request_context anonymous;
    anonymous.action = "ecr:BatchGetImage";
    anonymous.resource = "*";
    anonymous.account = "123456789012";
    for (const auto* rc : {&named, &anonymous}) {
      std::vector<const document*> one{&*doc};
      auto a = kind == document_kind::identity ? evaluate(one, {}, *rc) : evaluate({}, one, *rc);
      auto b = kind == document_kind::identity ? evaluate(one, {}, *rc) : evaluate({}, one, *rc);
      if (!(a == b)) __builtin_trap();  // deterministic
      // A document never allows through the other kind's slot when it denies in its own.
      if (a.result == verdict::explicit_deny && a.source == policy_source::none) __builtin_trap();
    }
  }
  return 0;
}
