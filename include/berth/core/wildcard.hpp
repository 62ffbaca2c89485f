// ECR's wildcard filters (tag mutability exclusions, lifecycle tagPatternList): '*' matches any run
// of characters, everything else itself.
#pragma once

#include <string_view>
#include <vector>

namespace berth {

bool wildcard_match(std::string_view pattern, std::string_view text);

// The general form (IAM's policy wildcards): with `question_mark`, '?' matches one character;
// `literal`, when given (one flag per pattern character), marks characters that are themselves.
bool glob_match(std::string_view pattern, std::string_view text, bool question_mark, bool ignore_case,
                const std::vector<bool>* literal);

}  // namespace berth
