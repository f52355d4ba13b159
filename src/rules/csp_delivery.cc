#include "rules/csp_delivery.h"

#include <algorithm>
#include <numeric>
#include <utility>

namespace smetsmon::rules {

void JudgeDeliveryRow(DeliveryRow& row, uint64_t min_sample) {
  row.share = row.delivered > 0
                  ? static_cast<double>(row.within_target) / static_cast<double>(row.delivered)
                  : 0.0;
  if (row.delivered < min_sample || row.delivered == 0) {
    row.rag = Rag::kUnknown;
  } else if (row.share >= row.target_service_level) {
    row.rag = Rag::kGreen;
  } else if (row.share >= row.minimum_service_level) {
    row.rag = Rag::kAmber;
  } else {
    row.rag = Rag::kRed;
  }
}

std::vector<CspDeliveryRow> BuildCspDelivery(const RulesConfig& config,
                                             const std::vector<DeliveryRow>& region_rows,
                                             uint64_t min_sample) {
  std::vector<CspDeliveryRow> out;
  if (config.csps.empty()) return out;
  // One group of CSP rows per (window, class), in the order the region rows first name them.
  std::vector<std::pair<std::string, std::string>> groups;
  for (const DeliveryRow& r : region_rows) {
    if (r.region == "all") continue;
    size_t g = 0;
    while (g < groups.size() && (groups[g].first != r.window || groups[g].second != r.priority)) {
      ++g;
    }
    if (g == groups.size()) {
      groups.emplace_back(r.window, r.priority);
      for (const CspConfig& csp : config.csps) {
        CspDeliveryRow c;
        c.csp = csp.name;
        c.regions = csp.regions;
        c.delivery.priority = r.priority;
        c.delivery.region = csp.name;
        c.delivery.window = r.window;
        c.delivery.target_ms = r.target_ms;
        c.delivery.target_service_level = r.target_service_level;
        c.delivery.minimum_service_level = r.minimum_service_level;
        c.delivery.latency_buckets.assign(r.latency_buckets.size(), 0);
        out.push_back(std::move(c));
      }
    }
    for (size_t k = 0; k < config.csps.size(); ++k) {
      const std::vector<std::string>& regions = config.csps[k].regions;
      if (std::find(regions.begin(), regions.end(), r.region) == regions.end()) continue;
      DeliveryRow& d = out[g * config.csps.size() + k].delivery;
      d.delivered += r.delivered;
      d.within_target += r.within_target;
      for (size_t b = 0; b < r.latency_buckets.size() && b < d.latency_buckets.size(); ++b) {
        d.latency_buckets[b] += r.latency_buckets[b];
      }
      break;  // a region is in at most one CSP
    }
  }
  for (CspDeliveryRow& c : out) JudgeDeliveryRow(c.delivery, min_sample);
  return out;
}

uint64_t LatencyHistogram::count() const {
  return std::accumulate(counts.begin(), counts.end(), uint64_t{0});
}

std::vector<LatencyHistogram> DeliveryLatencyByCsp(const aggregate::Engine& engine) {
  std::vector<LatencyHistogram> out;
  const aggregate::RuleInputsSetup* s = engine.rule_inputs_setup();
  if (s == nullptr || s->class_names.empty()) return out;
  std::vector<uint64_t> totals(s->latency_total_cells(), 0);
  for (size_t w = 0; w < engine.worker_count(); ++w) {
    if (const aggregate::RuleInputs* in = engine.worker(w).rule_inputs()) {
      in->SumLatencyTotals(totals);
    }
  }
  const size_t csps = s->csp_names.size();
  for (size_t cls = 0; cls < s->class_names.size(); ++cls) {
    for (size_t c = 0; c <= csps; ++c) {  // each CSP, then "unknown"
      LatencyHistogram h;
      h.priority = s->class_names[cls];
      h.csp = c < csps ? s->csp_names[c] : "unknown";
      h.counts.assign(s->latency_buckets(), 0);
      out.push_back(std::move(h));
    }
    for (size_t region = 0; region < s->region_slots; ++region) {
      const int8_t csp = region < s->csp_of_region_slot.size() ? s->csp_of_region_slot[region] : -1;
      LatencyHistogram& h = out[cls * (csps + 1) + (csp >= 0 ? static_cast<size_t>(csp) : csps)];
      const uint64_t* cells = &totals[s->LatencyTotalCell(cls, region)];
      for (size_t b = 0; b < s->latency_buckets(); ++b) h.counts[b] += cells[b];
      h.sum_ms += cells[s->latency_buckets()];
    }
  }
  return out;
}

}  // namespace smetsmon::rules
