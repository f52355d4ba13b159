// The rules' Prometheus probe: open findings, the Go/No-Go, what-if counts, delivery within
// target (per region and per CSP), noisy devices, read at scrape time from the evaluator's last
// published snapshot; and the delivery latency histogram, read from the workers' cumulative
// counters. Labels come only from bounded sets (kind, area, region, csp, criterion, rule, level,
// priority, window; the migration load's dmc, cohort, installed, days: at most 256 DMC x cohort
// pairs); never a device id (per-device data is in the HTTP API).
//
// Thread-safety: Collect() may run on any thread; it copies the evaluator's snapshot and loads
// the workers' single-writer counters.
#pragma once

#include <vector>

#include <prometheus/collectable.h>

#include "rules/evaluator.h"

namespace smetsmon::metrics {

class RulesMetrics final : public prometheus::Collectable {
 public:
  explicit RulesMetrics(const rules::Evaluator& evaluator) : evaluator_(&evaluator) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const rules::Evaluator* evaluator_;
};

}  // namespace smetsmon::metrics
