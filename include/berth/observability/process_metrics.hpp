// The process_* families every Prometheus client library exports (memory, descriptors, CPU, start
// time), read from /proc/self, so the standard dashboards and alerts work unchanged.
#pragma once

#include "berth/observability/exposition.hpp"

namespace berth::observability {

void write_process_metrics(exposition& out);

}  // namespace berth::observability
