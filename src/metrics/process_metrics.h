// Process metrics in the names every Prometheus client library uses (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds), read from /proc/self at scrape time, plus
// smetsmon_build_info. prometheus-cpp has no such collector.
//
// Thread-safety: Collect() may run on any thread; it only reads /proc.
#pragma once

#include <vector>

#include <prometheus/collectable.h>

namespace smetsmon::metrics {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace smetsmon::metrics
