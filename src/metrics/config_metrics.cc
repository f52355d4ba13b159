#include "metrics/config_metrics.h"

#include "metrics/family.h"

namespace smetsmon::metrics {

std::vector<prometheus::MetricFamily> ConfigMetrics::Collect() const {
  using prometheus::MetricType;
  static constexpr const char* kFileNames[kFiles] = {"alert_catalogue", "rules"};
  auto reloads = Family("smetsmon_config_reloads_total",
                        "SIGHUP reloads by file and outcome (refused: the previous configuration "
                        "stays; the log says why).",
                        MetricType::Counter);
  for (int f = 0; f < kFiles; ++f) {
    Add(reloads, static_cast<double>(applied_[f].load(std::memory_order_relaxed)),
        {{"file", kFileNames[f]}, {"outcome", "applied"}});
    Add(reloads, static_cast<double>(refused_[f].load(std::memory_order_relaxed)),
        {{"file", kFileNames[f]}, {"outcome", "refused"}});
  }
  auto loaded = Family("smetsmon_config_last_reload_success_timestamp_seconds",
                       "When the running configuration was last loaded in full (start or reload).",
                       MetricType::Gauge);
  Add(loaded, static_cast<double>(loaded_ms_.load(std::memory_order_relaxed)) / 1000.0);
  return {std::move(reloads), std::move(loaded)};
}

}  // namespace smetsmon::metrics
