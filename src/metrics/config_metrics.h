// The configuration probe: SIGHUP reloads per file and outcome, and when the running
// configuration was last loaded in full (start or a reload that applied everything).
//
//   smetsmon_config_reloads_total{file="alert_catalogue|rules",outcome="applied|refused"}
//   smetsmon_config_last_reload_success_timestamp_seconds
//
// Alert on `increase(smetsmon_config_reloads_total{outcome="refused"}[10m]) > 0`: the daemon
// runs on the previous configuration and its log says why.
// Thread-safety: Record/MarkLoaded from one thread (the io thread), Collect() from any.
// Time domain: processing time.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <prometheus/collectable.h>

#include "smetsmon/types.h"

namespace smetsmon::metrics {

class ConfigMetrics final : public prometheus::Collectable {
 public:
  enum class File : uint8_t { kAlertCatalogue, kRules };
  static constexpr int kFiles = 2;

  void Record(File file, bool applied) {
    auto& c = applied ? applied_[static_cast<int>(file)] : refused_[static_cast<int>(file)];
    c.fetch_add(1, std::memory_order_relaxed);
  }
  void MarkLoaded(ProcessingTime now) { loaded_ms_.store(now.ms, std::memory_order_relaxed); }

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::atomic<uint64_t> applied_[kFiles] = {};
  std::atomic<uint64_t> refused_[kFiles] = {};
  std::atomic<int64_t> loaded_ms_{0};
};

}  // namespace smetsmon::metrics
