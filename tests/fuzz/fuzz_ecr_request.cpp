// The JSON API request decoder: any body against any operation's model shape.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "../../src/ecr/shape_validator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* ops[] = {"CreateRepository",
                              "DescribeRepositories",
                              "BatchGetImage",
                              "BatchDeleteImage",
                              "PutImage",
                              "UploadLayerPart",
                              "CompleteLayerUpload",
                              "PutLifecyclePolicy",
                              "GetLifecyclePolicyPreview",
                              "CreateRepositoryCreationTemplate",
                              "TagResource",
                              "PutImageTagMutability",
                              "DescribeImages",
                              "ListImages"};
  const char* op = ops[data[0] % (sizeof ops / sizeof *ops)];
  auto body = nlohmann::json::parse(data + 1, data + size, nullptr, false);
  if (body.is_discarded()) return 0;
  (void)berth::ecr::shape_validator::instance().validate(op, body);
  return 0;
}
