// The SEC's own delivery views. Delivery per Communication Service Provider (CSP) as the
// Performance Measurement Report gives it (rules.yaml `csps`: CSP North = region north, CSP
// Central & South = regions central and south), next to the per-region rows; and the cumulative
// delivery latency per priority class x CSP behind the Prometheus histogram
// `smetsmon_delivery_latency_seconds{priority,csp}`.
//
// The CSP rows are sums of their regions' rows, judged by the same rule (JudgeDeliveryRow) as a
// region. The histogram sums the workers' cumulative counters (RuleInputs::SumLatencyTotals),
// which only grow, and groups regions into CSPs at export: an alert whose region is unknown, or
// in a region no CSP serves, counts under csp="unknown".
//
// Pure functions of their inputs. Thread-safety: BuildCspDelivery and JudgeDeliveryRow on any
// thread (the rules thread); DeliveryLatencyByCsp on any thread, concurrently with the workers
// (the metrics scrape). Time domain: the rows are the evaluation's event-time windows; the
// histogram counts since the engine started (or since the state its checkpoint restored).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aggregate/engine.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"

namespace smetsmon::rules {

// Sets row.share (within / delivered, 0 when none) and row.rag against the row's service levels:
// green at or above target, amber at or above minimum, red below; unknown under `min_sample`
// alerts delivered (a handful says little).
void JudgeDeliveryRow(DeliveryRow& row, uint64_t min_sample);

// One row per window x class x CSP (in config order), from the per-region rows of one
// evaluation (Evaluator::BuildDelivery's: the "all" rows are ignored). Empty without CSPs.
std::vector<CspDeliveryRow> BuildCspDelivery(const RulesConfig& config,
                                             const std::vector<DeliveryRow>& region_rows,
                                             uint64_t min_sample);

// The delivery latency of one priority class x CSP since start: counts per latency bucket (the
// bounds are RuleInputsSetup::latency_bounds_ms, inclusive, then the overflow) and the sum of
// the latencies in milliseconds (integer: exact).
struct LatencyHistogram {
  std::string priority;
  std::string csp;  // a CSP's name, or "unknown"
  std::vector<uint64_t> counts;
  uint64_t sum_ms = 0;
  uint64_t count() const;
};

// Every class x (each CSP, then "unknown"), zeros included, so a series never vanishes. Empty
// when the engine runs without rules.
std::vector<LatencyHistogram> DeliveryLatencyByCsp(const aggregate::Engine& engine);

}  // namespace smetsmon::rules
