// Timestamps as the wire formats Berth speaks write them: ISO 8601 in UTC to the second
// ("2026-12-08T01:05:00Z"), as IAM's CreateDate, EventBridge's `time` and the CLI's tables do.
#pragma once

#include <cstdint>
#include <string>

namespace berth {

std::string utc_iso8601(std::int64_t epoch_seconds);

}  // namespace berth
