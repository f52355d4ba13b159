#include "metrics/rules_metrics.h"

#include <map>
#include <string>
#include <utility>

#include "metrics/family.h"

namespace smetsmon::metrics {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> RulesMetrics::Collect() const {
  const rules::RulesSnapshot s = evaluator_->Snapshot();
  std::vector<MetricFamily> out;

  auto evaluated = Family("smetsmon_rules_evaluated_timestamp_seconds",
                          "Event time the rules were last evaluated at.", MetricType::Gauge);
  Add(evaluated, static_cast<double>(s.evaluated_at.ms) / 1000.0);
  out.push_back(std::move(evaluated));
  auto evaluations =
      Family("smetsmon_rules_evaluations_total", "Rules evaluations run.", MetricType::Counter);
  Add(evaluations, static_cast<double>(evaluator_->evaluations()));
  out.push_back(std::move(evaluations));

  // Open findings by kind and area ("all" sums every area and the regional/national ones).
  auto findings =
      Family("smetsmon_findings_open", "Open findings by kind and area.", MetricType::Gauge);
  std::map<std::pair<std::string, std::string>, int> open;
  for (int k = 0; k < rules::kFindingKindCount; ++k) {
    open[{rules::FindingKindName(static_cast<rules::FindingKind>(k)), "all"}] = 0;
  }
  for (const rules::Finding& f : s.open_findings) {
    const std::string kind = rules::FindingKindName(f.kind);
    ++open[{kind, "all"}];
    if (f.area != kUnknownArea) ++open[{kind, evaluator_->areas().area(f.area).name}];
  }
  for (const auto& [key, n] : open) {
    Add(findings, n, {{"kind", key.first}, {"area", key.second}});
  }
  out.push_back(std::move(findings));

  // Go/No-Go: 0 green, 1 amber, 2 red; criteria without data are reported as unavailable.
  auto overall = Family("smetsmon_gonogo_status",
                        "SMETS1 migration Go/No-Go, overall and per criterion: 0 green, 1 amber, "
                        "2 red, 3 unknown (no data).",
                        MetricType::Gauge);
  Add(overall, static_cast<double>(s.gonogo.overall), {{"criterion", "overall"}});
  auto value = Family("smetsmon_gonogo_criterion_value",
                      "The measured value behind each Go/No-Go criterion.", MetricType::Gauge);
  for (const rules::CriterionResult& c : s.gonogo.criteria) {
    Add(overall, static_cast<double>(c.rag), {{"criterion", c.id}});
    if (c.available) Add(value, c.value, {{"criterion", c.id}});
  }
  out.push_back(std::move(overall));
  out.push_back(std::move(value));

  // What-if: per rule x area (and "all") x candidate level, 1 h and 24 h.
  auto whatif_alerts = Family("smetsmon_whatif_alerts",
                              "Alerts of a voltage what-if rule carrying a voltage, in the window.",
                              MetricType::Gauge);
  auto whatif_stopped =
      Family("smetsmon_whatif_stopped_alerts",
             "Of those, alerts a changed acceptance level would have stopped.", MetricType::Gauge);
  for (const rules::WhatIfRow& r : s.whatif) {
    if (r.scope.rfind("dmc=", 0) == 0) continue;  // DMCs via the API (bounded, but many)
    const std::string area = r.scope == "all" ? "all" : r.scope.substr(5);
    Add(whatif_alerts, static_cast<double>(r.alerts),
        {{"rule", r.rule}, {"area", area}, {"window", r.window}});
    for (size_t i = 0; i < r.levels_dv.size(); ++i) {
      Add(whatif_stopped, static_cast<double>(r.stopped[i]),
          {{"rule", r.rule},
           {"area", area},
           {"window", r.window},
           {"level_dv", std::to_string(r.levels_dv[i])}});
    }
  }
  out.push_back(std::move(whatif_alerts));
  out.push_back(std::move(whatif_stopped));

  // Delivery within target per priority x region x window.
  auto delivered = Family("smetsmon_delivery_alerts",
                          "Alerts delivered (with a dcc_time) in the window.", MetricType::Gauge);
  auto within = Family("smetsmon_delivery_within_target_ratio",
                       "Share of alerts delivered within their class's target in the window.",
                       MetricType::Gauge);
  auto rag = Family("smetsmon_delivery_status",
                    "Delivery against the service levels: 0 green, 1 amber, 2 red, 3 unknown.",
                    MetricType::Gauge);
  for (const rules::DeliveryRow& r : s.delivery) {
    const std::vector<ClientMetric::Label> labels = {
        {"priority", r.priority}, {"region", r.region}, {"window", r.window}};
    Add(delivered, static_cast<double>(r.delivered), labels);
    if (r.delivered > 0) Add(within, r.share, labels);
    Add(rag, static_cast<double>(r.rag), labels);
  }
  out.push_back(std::move(delivered));
  out.push_back(std::move(within));
  out.push_back(std::move(rag));

  auto noisy =
      Family("smetsmon_noisy_devices",
             "Devices over the per-device daily alert threshold, by area.", MetricType::Gauge);
  Add(noisy, static_cast<double>(s.noisy_devices), {{"area", "all"}, {"generation", "all"}});
  Add(noisy, static_cast<double>(s.noisy_smets1_devices),
      {{"area", "all"}, {"generation", "smets1"}});
  for (const auto& [area, n] : s.noisy_by_area) {
    Add(noisy, static_cast<double>(n), {{"area", area}, {"generation", "all"}});
  }
  out.push_back(std::move(noisy));

  auto dropped = Family("smetsmon_outage_signals_dropped_total",
                        "Outage/restoration signals dropped because the evaluator fell behind.",
                        MetricType::Counter);
  Add(dropped, static_cast<double>(s.outage_signals_dropped));
  out.push_back(std::move(dropped));
  return out;
}

}  // namespace smetsmon::metrics
