#include "report/replay_report.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "report/gonogo_report.h"
#include "report/rules_json.h"

namespace smetsmon::report {
namespace {

using aggregate::Engine;
using aggregate::FleetLayout;

struct Rollup {
  std::map<std::string, uint64_t> by_category, by_area, by_region, by_generation, by_code;
  std::map<std::string, uint64_t> by_dmc, by_cohort;  // SMETS1, windows only
};

// A DMC or cohort label for reports; id 0 (not given) is "none".
std::string LabelName(const catalog::SymbolTable& names, size_t id) {
  const std::string_view name = names.Name(static_cast<uint16_t>(id));
  return name.empty() ? "none" : std::string(name);
}

// Folds main cells (area x code slot x generation) and, if present, DMC/cohort cells.
Rollup Fold(const Engine& engine, const std::vector<uint64_t>& cells) {
  const FleetLayout& l = engine.layout();
  const auto& areas = l.areas();
  const auto& cat = l.catalogue();
  Rollup r;
  for (size_t a = 0; a < l.area_slots(); ++a) {
    const AreaId area = areas.FromSlot(a);
    for (size_t c = 0; c < l.code_slots(); ++c) {
      for (Generation g : {Generation::kSmets1, Generation::kSmets2}) {
        const uint64_t n = cells[l.MainCell(a, c, g)];
        if (n == 0) continue;
        r.by_category[cat.categories()[l.CategoryOfSlot(c)]] += n;
        r.by_area[areas.Label(area)] += n;
        r.by_region[areas.RegionLabel(areas.RegionOf(area))] += n;
        r.by_generation[g == Generation::kSmets1 ? "smets1" : "smets2"] += n;
        r.by_code[cat.SlotLabel(static_cast<catalog::CodeSlot>(c))] += n;
      }
    }
  }
  if (cells.size() == l.total_cells()) {
    const auto& ref = engine.ref();
    // SMETS1 label x category cells, folded to the label's name.
    auto fold_labels = [&](size_t limit, const catalog::SymbolTable& names, auto cell_of,
                           std::map<std::string, uint64_t>& out) {
      for (size_t id = 0; id < limit; ++id) {
        for (size_t k = 0; k < l.categories(); ++k) {
          const uint64_t n = cells[cell_of(static_cast<uint16_t>(id), k)];
          if (n != 0) out[LabelName(names, id)] += n;
        }
      }
    };
    fold_labels(
        l.dmc_limit(), *ref.dmcs, [&](uint16_t id, size_t k) { return l.DmcCell(id, k); },
        r.by_dmc);
    fold_labels(
        l.cohort_limit(), *ref.cohorts, [&](uint16_t id, size_t k) { return l.CohortCell(id, k); },
        r.by_cohort);
  }
  return r;
}

void WriteMap(JsonWriter& w, std::string_view key, const std::map<std::string, uint64_t>& m) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : m) w.Field(k, v);
  w.EndObject();
}

void WriteRollup(JsonWriter& w, const Rollup& r, bool with_smets1_dims) {
  WriteMap(w, "by_category", r.by_category);
  WriteMap(w, "by_area", r.by_area);
  WriteMap(w, "by_region", r.by_region);
  WriteMap(w, "by_generation", r.by_generation);
  WriteMap(w, "by_code", r.by_code);
  if (with_smets1_dims) {
    WriteMap(w, "smets1_by_dmc", r.by_dmc);
    WriteMap(w, "smets1_by_cohort", r.by_cohort);
  }
}

// Installation counts: the denominators for per-installation rates.
void WriteInventory(JsonWriter& w, const Engine& engine, const catalog::Inventory& inv) {
  const auto& areas = engine.layout().areas();
  const auto& ref = engine.ref();
  w.Key("inventory").BeginObject();
  w.Field("devices", inv.size());
  w.Field("bad_rows", inv.stats().bad_rows);
  std::map<std::string, uint64_t> by_area, by_dmc, by_cohort;
  // Installations per label; zero counts are left out.
  auto collect = [](const std::vector<uint64_t>& counts, auto name_of,
                    std::map<std::string, uint64_t>& out) {
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] != 0) out[name_of(i)] = counts[i];
    }
  };
  collect(
      inv.installs_by_area(), [&](size_t a) { return areas.Label(areas.FromSlot(a)); }, by_area);
  collect(
      inv.installs_by_dmc(), [&](size_t d) { return LabelName(*ref.dmcs, d); }, by_dmc);
  collect(
      inv.installs_by_cohort(), [&](size_t h) { return LabelName(*ref.cohorts, h); }, by_cohort);
  WriteMap(w, "by_area", by_area);
  w.Key("by_generation").BeginObject();
  w.Field("smets1", inv.installs_by_generation(Generation::kSmets1));
  w.Field("smets2", inv.installs_by_generation(Generation::kSmets2));
  w.Field("unknown", inv.installs_by_generation(Generation::kUnknown));
  w.EndObject();
  WriteMap(w, "by_dmc", by_dmc);
  WriteMap(w, "by_cohort", by_cohort);
  w.EndObject();
}

}  // namespace

std::string BuildReportJson(const Engine& engine, const ReplayStats& /*stats*/,
                            const rules::RulesSnapshot* rules) {
  const aggregate::CounterTotals c = engine.Counters();
  JsonWriter w;
  w.BeginObject();
  w.Key("events").BeginObject();
  // Every line read is accepted, a duplicate or rejected; this holds across snapshot restores.
  w.Field("read", c.accepted + c.duplicates + c.rejected_total());
  w.Field("accepted", c.accepted);
  w.Field("duplicates", c.duplicates);
  w.Field("late", c.late_24h);
  w.Key("rejected").BeginObject();
  for (int i = 1; i < kRejectReasonCount; ++i) {
    if (c.rejected[i] != 0) w.Field(kRejectReasonNames[static_cast<size_t>(i)], c.rejected[i]);
  }
  w.EndObject();
  w.EndObject();
  WriteRollup(w, Fold(engine, engine.Totals()), false);
  w.Field("devices", c.devices);
  w.Field("devices_refused", c.devices_refused);
  w.Field("dedup_evictions", c.dedup_evictions);
  if (const catalog::Inventory* inv = engine.ref().inventory.get()) WriteInventory(w, engine, *inv);
  const EventTime now = engine.StreamTime();
  w.Key("windows").BeginObject();
  w.Field("stream_time", now == EventTime::Min() ? std::string("none") : FormatRfc3339Utc(now.ms));
  w.Key("late").BeginObject().Field("1h", c.late_1h).Field("24h", c.late_24h).EndObject();
  if (now != EventTime::Min()) {
    for (aggregate::View v : aggregate::kAllViews) {
      w.Key(aggregate::ViewName(v)).BeginObject();
      WriteRollup(w, Fold(engine, engine.View(v, now)), true);
      w.EndObject();
    }
  }
  w.EndObject();
  if (rules != nullptr) {
    w.Key("findings");
    WriteFindings(w, *rules);
    w.Key("whatif");
    WriteWhatIf(w, rules->whatif);
    w.Key("delivery");
    WriteDelivery(w, rules->delivery, rules->delivery_csp,
                  engine.rule_inputs_setup()->latency_bounds_ms);
    w.Key("noisy");
    WriteNoisy(w, *rules);
    w.Key("gonogo");
    WriteGoNoGo(w, *rules);
    w.Key("storms");
    WriteStorms(w, *rules);
  }
  w.EndObject();
  return w.str();
}

std::string BuildReportText(const Engine& engine, const ReplayStats& stats,
                            const rules::RulesSnapshot* rules) {
  const aggregate::CounterTotals c = engine.Counters();
  std::string out = absl::StrCat("smetsmon replay: ", stats.files, " file(s), ", stats.lines_read,
                                 " lines in ", absl::StrFormat("%.2f", stats.seconds), " s\n");
  absl::StrAppend(&out, "  accepted ", c.accepted, ", duplicates ", c.duplicates, ", late (24h) ",
                  c.late_24h, ", rejected ", c.rejected_total(), ", devices ", c.devices, "\n");
  for (int i = 1; i < kRejectReasonCount; ++i) {
    if (c.rejected[i] != 0) {
      absl::StrAppend(&out, "    rejected ",
                      std::string(kRejectReasonNames[static_cast<size_t>(i)]), ": ", c.rejected[i],
                      "\n");
    }
  }
  const Rollup r = Fold(engine, engine.Totals());
  absl::StrAppend(&out, "  alerts by category:\n");
  for (const auto& [k, v] : r.by_category) absl::StrAppend(&out, "    ", k, ": ", v, "\n");
  absl::StrAppend(&out, "  alerts by area:\n");
  for (const auto& [k, v] : r.by_area) absl::StrAppend(&out, "    ", k, ": ", v, "\n");
  absl::StrAppend(&out, "  alerts by generation:\n");
  for (const auto& [k, v] : r.by_generation) absl::StrAppend(&out, "    ", k, ": ", v, "\n");
  if (rules != nullptr) {
    absl::StrAppend(&out, "  findings (", rules->open_findings.size(), " open, ",
                    rules->closed_findings.size(), " closed):\n");
    for (const auto* list : {&rules->open_findings, &rules->closed_findings}) {
      for (const rules::Finding& f : *list) {
        absl::StrAppend(&out, "    [", rules::SeverityName(f.severity), "] ",
                        f.open() ? "open" : "closed", " ", rules::FindingKindName(f.kind), " ",
                        f.scope, ": ", f.explanation, "\n");
      }
    }
    // What the storm thresholds rest on: a scope still learning cannot storm (below the ceiling).
    const auto& by_basis = rules->storm_basis_counts;
    absl::StrAppend(
        &out, "  storm scopes: ", by_basis[2], " learned (usual rate per hour of day), ",
        by_basis[1], " provisional (recent level), ", by_basis[0], " learning",
        rules->storm_plateaus_accepted > 0 ? absl::StrCat("; ", rules->storm_plateaus_accepted,
                                                          " storm(s) closed by the plateau policy")
                                           : std::string(),
        "\n");
    absl::StrAppend(&out, "  what-if:\n");
    for (const rules::WhatIfRow& w : rules->whatif) {
      if (!w.sentence.empty()) absl::StrAppend(&out, "    ", w.sentence, "\n");
    }
    // The PMR's view: delivery within target per Communication Service Provider.
    if (!rules->delivery_csp.empty()) {
      absl::StrAppend(&out, "  delivery within target per CSP (24 h):\n");
      for (const rules::CspDeliveryRow& c : rules->delivery_csp) {
        const rules::DeliveryRow& d = c.delivery;
        if (d.window != "24h" || d.delivered == 0) continue;
        absl::StrAppend(&out, "    ", c.csp, ", ", d.priority, ": ", d.within_target, " of ",
                        d.delivered, absl::StrFormat(" (%.1f %%), ", d.share * 100.0),
                        rules::RagName(d.rag), "\n");
      }
    }
    absl::StrAppend(&out, "\n", GoNoGoToText(rules->gonogo));
  }
  return out;
}

}  // namespace smetsmon::report
