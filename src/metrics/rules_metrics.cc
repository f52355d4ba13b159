#include "metrics/rules_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "metrics/family.h"
#include "rules/csp_delivery.h"

namespace smetsmon::metrics {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

// The SEC's views: delivery per CSP x priority x window (the evaluation's rows), and the
// delivery latency histogram per priority x CSP (cumulative counters read from the workers now).
void AddCspDelivery(const rules::RulesSnapshot& s, const aggregate::Engine& engine,
                    std::vector<MetricFamily>* out) {
  auto delivered = Family("smetsmon_delivery_csp_alerts",
                          "Alerts delivered (with a dcc_time) in the window, per Communication "
                          "Service Provider (the sum of its regions).",
                          MetricType::Gauge);
  auto within = Family("smetsmon_delivery_csp_within_target_ratio",
                       "Share of a CSP's alerts delivered within their class's target in the "
                       "window.",
                       MetricType::Gauge);
  auto rag = Family("smetsmon_delivery_csp_status",
                    "A CSP's delivery against the service levels: 0 green, 1 amber, 2 red, 3 "
                    "unknown.",
                    MetricType::Gauge);
  for (const rules::CspDeliveryRow& c : s.delivery_csp) {
    const rules::DeliveryRow& r = c.delivery;
    const std::vector<ClientMetric::Label> labels = {
        {"priority", r.priority}, {"csp", c.csp}, {"window", r.window}};
    Add(delivered, static_cast<double>(r.delivered), labels);
    if (r.delivered > 0) Add(within, r.share, labels);
    Add(rag, static_cast<double>(r.rag), labels);
  }
  out->push_back(std::move(delivered));
  out->push_back(std::move(within));
  out->push_back(std::move(rag));

  auto latency = Family("smetsmon_delivery_latency_seconds",
                        "Delivery latency (dcc_time - event_time) of alerts since start, per "
                        "priority class and CSP (csp=\"unknown\": region unknown or served by "
                        "no CSP).",
                        MetricType::Histogram);
  const aggregate::RuleInputsSetup* setup = engine.rule_inputs_setup();
  for (const rules::LatencyHistogram& h : rules::DeliveryLatencyByCsp(engine)) {
    ClientMetric m;
    m.label = {{"priority", h.priority}, {"csp", h.csp}};
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h.counts.size(); ++b) {
      cumulative += h.counts[b];
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = b < setup->latency_bounds_ms.size()
                               ? static_cast<double>(setup->latency_bounds_ms[b]) / 1000.0
                               : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(bucket);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(h.sum_ms) / 1000.0;
    latency.metric.push_back(std::move(m));
  }
  out->push_back(std::move(latency));
}

}  // namespace

std::vector<MetricFamily> RulesMetrics::Collect() const {
  const rules::RulesSnapshot s = evaluator_->Snapshot();
  std::vector<MetricFamily> out;

  AddScalar(out, "smetsmon_rules_evaluated_timestamp_seconds",
            "Event time the rules were last evaluated at.", MetricType::Gauge,
            static_cast<double>(s.evaluated_at.ms) / 1000.0);
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

  // Migration load (rules/migration_load.h): per DMC x cohort x installed (recent/established,
  // the classes with installations; at most kMaxMigrationRows pairs, those with the most
  // installations: the API has them all) and "all"; the projection per horizon when available.
  {
    constexpr size_t kMaxMigrationRows = 256;
    const rules::MigrationLoad& m = s.gonogo.migration;
    auto rate = Family("smetsmon_migration_alerts_per_installation_per_day",
                       "SMETS1 alerts in the last 24 h per installation, of installations "
                       "installed in the last gonogo.recent_days (installed=recent) or before "
                       "(installed=established).",
                       MetricType::Gauge);
    auto installs = Family("smetsmon_migration_installations",
                           "SMETS1 installations (premises, from the inventory) by installation "
                           "class.",
                           MetricType::Gauge);
    const auto add_class = [&](const std::string& dmc, const std::string& cohort,
                               const char* installed, uint64_t n, uint64_t alerts) {
      if (n == 0) return;
      const std::vector<ClientMetric::Label> labels = {
          {"dmc", dmc}, {"cohort", cohort}, {"installed", installed}};
      Add(installs, static_cast<double>(n), labels);
      Add(rate, static_cast<double>(alerts) / static_cast<double>(n), labels);
    };
    std::vector<const rules::MigrationLoadRow*> rows;
    for (const rules::MigrationLoadRow& r : m.rows) rows.push_back(&r);
    const auto installations = [](const rules::MigrationLoadRow* r) {
      return r->recent_installations + r->established_installations;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const auto* a, const auto* b) {
      return installations(a) > installations(b);
    });
    if (rows.size() > kMaxMigrationRows) rows.resize(kMaxMigrationRows);
    for (const rules::MigrationLoadRow* r : rows) {
      add_class(r->dmc, r->cohort, "recent", r->recent_installations, r->recent_alerts_24h);
      add_class(r->dmc, r->cohort, "established", r->established_installations,
                r->established_alerts_24h);
    }
    add_class("all", "all", "recent", m.recent_installations, m.recent_alerts_24h);
    add_class("all", "all", "established", m.established_installations, m.established_alerts_24h);
    auto projected = Family("smetsmon_migration_projected_smets1_alerts_per_day",
                            "SMETS1 alerts a day projected after `days` days of the planned "
                            "migration volume at the recent installations' rate (absent when "
                            "unknown).",
                            MetricType::Gauge);
    auto share = Family("smetsmon_migration_projected_smets1_share_of_capacity",
                        "The projected SMETS1 alerts a day as a share of capacity (absent when "
                        "unknown).",
                        MetricType::Gauge);
    for (const rules::MigrationProjection& p : m.projections) {
      const std::vector<ClientMetric::Label> labels = {{"days", std::to_string(p.days)}};
      Add(projected, p.alerts_per_day, labels);
      if (std::isfinite(p.share_of_capacity)) Add(share, p.share_of_capacity, labels);
    }
    out.push_back(std::move(rate));
    out.push_back(std::move(installs));
    out.push_back(std::move(projected));
    out.push_back(std::move(share));
  }

  // The latest daily decision (absent before the first): the RAG in force per criterion and
  // overall (an operator's override where one is recorded), the computed one, and which are
  // overridden.
  if (!s.gonogo_history.empty()) {
    const rules::GoNoGoResult& d = s.gonogo_history.back();
    auto daily = Family("smetsmon_gonogo_daily_status",
                        "The latest daily Go/No-Go decision in force, overall and per criterion "
                        "(an operator's override where recorded): 0 green, 1 amber, 2 red, "
                        "3 unknown (no data).",
                        MetricType::Gauge);
    auto computed = Family("smetsmon_gonogo_daily_computed_status",
                           "The latest daily Go/No-Go decision as computed, before overrides: "
                           "0 green, 1 amber, 2 red, 3 unknown.",
                           MetricType::Gauge);
    auto overridden = Family("smetsmon_gonogo_override_active",
                             "1 when the latest daily decision's criterion (or overall) carries "
                             "an operator's override, else 0.",
                             MetricType::Gauge);
    auto decided = Family("smetsmon_gonogo_daily_decision_timestamp_seconds",
                          "Event time of the latest daily Go/No-Go decision.", MetricType::Gauge);
    Add(daily, static_cast<double>(d.effective_overall), {{"criterion", "overall"}});
    Add(computed, static_cast<double>(d.overall), {{"criterion", "overall"}});
    Add(overridden, d.overall_overridden ? 1 : 0, {{"criterion", "overall"}});
    for (const rules::CriterionResult& c : d.criteria) {
      Add(daily, static_cast<double>(c.effective), {{"criterion", c.id}});
      Add(computed, static_cast<double>(c.rag), {{"criterion", c.id}});
      Add(overridden, c.overridden ? 1 : 0, {{"criterion", c.id}});
    }
    Add(decided, static_cast<double>(d.at.ms) / 1000.0);
    out.push_back(std::move(daily));
    out.push_back(std::move(computed));
    out.push_back(std::move(overridden));
    out.push_back(std::move(decided));
  }

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
  // The classes' targets and service levels, so that dashboards draw the configured lines.
  auto target = Family("smetsmon_delivery_target_seconds",
                       "The priority class's delivery-time target (rules.yaml priorities).",
                       MetricType::Gauge);
  auto level = Family("smetsmon_delivery_service_level_ratio",
                      "The priority class's service levels: the share within target at or above "
                      "which delivery is green (level=target) and below which it is red "
                      "(level=minimum).",
                      MetricType::Gauge);
  for (const rules::PriorityClass& c : s.priorities) {
    Add(target, static_cast<double>(c.target_ms) / 1000.0, {{"priority", c.name}});
    Add(level, c.target_service_level, {{"priority", c.name}, {"level", "target"}});
    Add(level, c.minimum_service_level, {{"priority", c.name}, {"level", "minimum"}});
  }
  out.push_back(std::move(target));
  out.push_back(std::move(level));
  AddCspDelivery(s, evaluator_->engine(), &out);

  auto noisy = Family("smetsmon_noisy_devices",
                      "Devices with more than the per-device daily alert threshold (noisy_devices."
                      "threshold_24h) alerts in 24 h, by area.",
                      MetricType::Gauge);
  Add(noisy, static_cast<double>(s.noisy_devices), {{"area", "all"}, {"generation", "all"}});
  Add(noisy, static_cast<double>(s.noisy_smets1_devices),
      {{"area", "all"}, {"generation", "smets1"}});
  for (const auto& [area, n] : s.noisy_by_area) {
    Add(noisy, static_cast<double>(n), {{"area", area}, {"generation", "all"}});
  }
  out.push_back(std::move(noisy));
  auto noisy_dropped =
      Family("smetsmon_noisy_devices_dropped_total",
             "Alerts of devices over the noisy threshold left off the list (their shard's share "
             "of noisy_devices.capacity was full).",
             MetricType::Counter);
  Add(noisy_dropped, static_cast<double>(s.noisy_dropped));
  out.push_back(std::move(noisy_dropped));
  AddScalar(out, "smetsmon_noisy_codes_untracked_total",
            "Alerts of devices over noisy_devices.track_codes_from whose codes were "
            "not counted (their shard's share of noisy_devices.track_capacity was full).",
            MetricType::Counter, static_cast<double>(s.noisy_codes_untracked));

  AddScalar(out, "smetsmon_outage_signals_dropped_total",
            "Outage/restoration signals dropped: more in one stream minute than their shard's "
            "share of the 65,536 kept between evaluations.",
            MetricType::Counter, static_cast<double>(s.outage_signals_dropped));

  // Power outages, per area: the figures of its latest outage (the open one, else the newest
  // closed one), which after it closes go on counting late restorations until they are final.
  auto outage_premises =
      Family("smetsmon_power_outage_premises",
             "Premises of the area's latest power outage (open, else last closed): affected, "
             "restored, unrestored, restored_at_close, restored_after_close (final tally).",
             MetricType::Gauge);
  auto outage_final = Family("smetsmon_power_outage_figures_final",
                             "1 when the area's latest power outage is closed and its figures "
                             "are its final tally, 0 while open or still counting restorations.",
                             MetricType::Gauge);
  // By area name: the closed ones in order (newest last), then the open ones, the last wins.
  std::map<std::string, const rules::Finding*> latest_outage;
  for (const auto* list : {&s.closed_findings, &s.open_findings}) {
    for (const rules::Finding& f : *list) {
      if (f.kind != rules::FindingKind::kPowerOutage || f.area == kUnknownArea) continue;
      latest_outage[evaluator_->areas().area(f.area).name] = &f;
    }
  }
  for (const auto& [area, f] : latest_outage) {
    for (const auto& [label, figure] :
         {std::pair<const char*, const char*>{"affected", "affected_premises"},
          {"restored", "restored_premises"},
          {"unrestored", "unrestored_premises"},
          {"restored_at_close", "restored_premises_at_close"},
          {"restored_after_close", "restored_after_close"}}) {
      const auto it = f->figures.find(figure);
      if (it == f->figures.end()) continue;
      Add(outage_premises, it->second, {{"area", area}, {"count", label}});
    }
    Add(outage_final, f->figures_final() ? 1.0 : 0.0, {{"area", area}});
  }
  out.push_back(std::move(outage_premises));
  out.push_back(std::move(outage_final));

  // Storms: what each scope's threshold rests on (learning = no baseline yet: only the ceiling
  // opens a storm), and the storms the plateau policy closed.
  auto scopes = Family("smetsmon_storm_scopes",
                       "Storm scopes by what their threshold rests on: learning (no baseline: "
                       "only the absolute ceiling opens a storm), provisional (the recent level), "
                       "learned (the usual rate for the hour of day).",
                       MetricType::Gauge);
  for (int b = 0; b < rules::kStormBasisCount; ++b) {
    Add(scopes, static_cast<double>(s.storm_basis_counts[static_cast<size_t>(b)]),
        {{"basis", rules::StormBasisName(static_cast<rules::StormBasis>(b))}});
  }
  out.push_back(std::move(scopes));
  AddScalar(out, "smetsmon_storm_plateaus_accepted_total",
            "Storms closed by the plateau policy: their flat level became the "
            "scope's new normal.",
            MetricType::Counter, static_cast<double>(s.storm_plateaus_accepted));
  auto scopes_dropped =
      Family("smetsmon_storm_scopes_dropped_total",
             "Storm observations refused because the scope table was full (storms.max_scopes).",
             MetricType::Counter);
  Add(scopes_dropped, static_cast<double>(s.storm_scopes_dropped));
  out.push_back(std::move(scopes_dropped));
  return out;
}

}  // namespace smetsmon::metrics
