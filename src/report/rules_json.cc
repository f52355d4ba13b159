#include "report/rules_json.h"

#include "report/gonogo_report.h"

namespace smetsmon::report {

using rules::DeliveryRow;
using rules::Finding;
using rules::GoNoGoResult;
using rules::NoisyRow;
using rules::RulesSnapshot;
using rules::WhatIfRow;

void WriteFinding(JsonWriter& w, const Finding& f) {
  w.BeginObject();
  w.Field("id", f.id);
  w.Field("kind", FindingKindName(f.kind));
  w.Field("severity", SeverityName(f.severity));
  w.Field("scope", f.scope);
  w.Field("region", f.region);
  w.Key("start_ms").Int(f.start.ms);
  w.Key("end_ms");
  if (f.end) {
    w.Int(f.end->ms);
  } else {
    w.Null();
  }
  w.Key("open").Bool(f.open());
  // Whether the figures can still change: open, or closed while a late tally counts (a power
  // outage's restorations after it closed, until tally_until_ms).
  w.Key("final").Bool(f.figures_final());
  w.Field("tally", TallyName(f.tally));
  w.Key("tally_until_ms");
  if (f.tally_until) {
    w.Int(f.tally_until->ms);
  } else {
    w.Null();
  }
  w.Field("explanation", f.explanation);
  w.Key("figures").BeginObject();
  for (const auto& [k, v] : f.figures) w.Key(k).Double(v);
  w.EndObject();
  w.EndObject();
}

void WriteFindings(JsonWriter& w, const RulesSnapshot& s) {
  w.BeginObject();
  w.Key("evaluated_at_ms").Int(s.evaluated_at.ms);
  // Outage and restoration signals over the bound kept between two evaluations (cumulative): a
  // power cut's premises counts leave them out.
  w.Field("outage_signals_dropped", s.outage_signals_dropped);
  w.Key("open").BeginArray();
  for (const Finding& f : s.open_findings) WriteFinding(w, f);
  w.EndArray();
  w.Key("closed").BeginArray();
  for (const Finding& f : s.closed_findings) WriteFinding(w, f);
  w.EndArray();
  w.EndObject();
}

void WriteStorms(JsonWriter& w, const RulesSnapshot& s) {
  w.BeginObject();
  w.Key("evaluated_at_ms").Int(s.evaluated_at.ms);
  w.Key("by_basis").BeginObject();
  for (int b = 0; b < rules::kStormBasisCount; ++b) {
    w.Field(rules::StormBasisName(static_cast<rules::StormBasis>(b)),
            static_cast<uint64_t>(s.storm_basis_counts[static_cast<size_t>(b)]));
  }
  w.EndObject();
  w.Field("plateaus_accepted", s.storm_plateaus_accepted);
  w.Field("scopes_dropped", s.storm_scopes_dropped);
  w.Key("scopes").BeginArray();
  for (const rules::StormScopeRow& r : s.storm_scopes) {
    w.BeginObject();
    w.Field("scope", r.scope);
    w.Field("label", r.label);
    w.Field("basis", rules::StormBasisName(r.basis));
    w.Key("rate_per_hour").Double(r.rate_per_hour);
    w.Key("expected_per_hour").Double(r.expected_per_hour);
    w.Key("threshold_per_hour").Double(r.threshold_per_hour);
    w.Key("level_per_hour").Double(r.level_per_hour);
    w.Key("known_hours").Int(r.known_hours);
    w.Key("storming").Bool(r.storming);
    w.Key("ceiling").Bool(r.ceiling);
    w.Key("observed_at_ms").Int(r.observed_at.ms);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteWhatIf(JsonWriter& w, const std::vector<WhatIfRow>& rows) {
  w.BeginArray();
  for (const WhatIfRow& r : rows) {
    w.BeginObject();
    w.Field("rule", r.rule);
    w.Field("scope", r.scope);
    w.Field("window", r.window);
    w.Key("current_dv").Int(r.current_dv);
    w.Field("alerts", r.alerts);
    w.Key("levels").BeginArray();
    for (size_t i = 0; i < r.levels_dv.size(); ++i) {
      w.BeginObject();
      w.Key("level_dv").Int(r.levels_dv[i]);
      w.Field("stopped", r.stopped[i]);
      w.Key("share").Double(
          r.alerts > 0 ? static_cast<double>(r.stopped[i]) / static_cast<double>(r.alerts) : 0.0);
      w.EndObject();
    }
    w.EndArray();
    if (!r.sentence.empty()) w.Field("sentence", r.sentence);
    w.EndObject();
  }
  w.EndArray();
}

void WriteDelivery(JsonWriter& w, const std::vector<DeliveryRow>& rows,
                   const std::vector<rules::CspDeliveryRow>& csp_rows,
                   const std::vector<int64_t>& latency_bounds_ms) {
  // What a region row and a CSP row share, after their scope.
  const auto body = [&w](const DeliveryRow& r) {
    w.Field("window", r.window);
    w.Field("delivered", r.delivered);
    w.Field("within_target", r.within_target);
    w.Key("share_within_target").Double(r.share);
    w.Field("rag", RagName(r.rag));
    w.Key("target_ms").Int(r.target_ms);
    w.Key("target_service_level").Double(r.target_service_level);
    w.Key("minimum_service_level").Double(r.minimum_service_level);
    w.Key("latency_buckets").BeginArray();
    for (uint64_t c : r.latency_buckets) w.Uint(c);
    w.EndArray();
  };
  w.BeginObject();
  w.Key("latency_bounds_ms").BeginArray();
  for (int64_t b : latency_bounds_ms) w.Int(b);
  w.EndArray();
  // The SEC's view: per Communication Service Provider, the sums of its regions' rows.
  w.Key("csp_rows").BeginArray();
  for (const rules::CspDeliveryRow& c : csp_rows) {
    w.BeginObject();
    w.Field("priority", c.delivery.priority);
    w.Field("csp", c.csp);
    w.Key("regions").BeginArray();
    for (const std::string& region : c.regions) w.String(region);
    w.EndArray();
    body(c.delivery);
    w.EndObject();
  }
  w.EndArray();
  w.Key("rows").BeginArray();
  for (const DeliveryRow& r : rows) {
    w.BeginObject();
    w.Field("priority", r.priority);
    w.Field("region", r.region);
    body(r);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

namespace {

void WriteNoisyRows(JsonWriter& w, const std::vector<NoisyRow>& rows) {
  w.BeginArray();
  for (const NoisyRow& r : rows) {
    w.BeginObject();
    w.Field("device_id", r.device_id);
    w.Field("area", r.area);
    w.Field("dmc", r.dmc);
    w.Key("generation").Int(r.generation);
    w.Field("alerts_24h", r.alerts_24h);
    w.Key("top_codes").BeginArray();
    for (const auto& [code, n] : r.top_codes) {
      w.BeginObject();
      w.Field("code", code);
      w.Field("count", n);
      w.EndObject();
    }
    w.EndArray();
    w.Field("other_codes", r.other_codes);
    w.Field("untracked", r.untracked);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

void WriteNoisy(JsonWriter& w, const RulesSnapshot& s) {
  w.BeginObject();
  w.Field("count", s.noisy_devices);
  w.Field("smets1", s.noisy_smets1_devices);
  // What the bounded tables turned away (cumulative, as /metrics exports them): alerts of
  // devices left off the list, and alerts whose codes were not counted.
  w.Field("alerts_dropped", s.noisy_dropped);
  w.Field("alerts_codes_untracked", s.noisy_codes_untracked);
  w.Key("by_area").BeginObject();
  for (const auto& [k, v] : s.noisy_by_area) w.Field(k, v);
  w.EndObject();
  w.Key("by_dmc").BeginObject();
  for (const auto& [k, v] : s.noisy_by_dmc) w.Field(k, v);
  w.EndObject();
  w.Key("top");
  WriteNoisyRows(w, s.noisy_top);
  w.Key("top_by_area").BeginObject();
  for (const auto& [area, rows] : s.noisy_top_by_area) {
    w.Key(area);
    WriteNoisyRows(w, rows);
  }
  w.EndObject();
  w.Key("top_by_dmc").BeginObject();
  for (const auto& [dmc, rows] : s.noisy_top_by_dmc) {
    w.Key(dmc);
    WriteNoisyRows(w, rows);
  }
  w.EndObject();
  w.EndObject();
}

void WriteGoNoGo(JsonWriter& w, const RulesSnapshot& s) {
  w.BeginObject();
  w.Key("current").RawValue(GoNoGoToJson(s.gonogo));
  w.Key("history").BeginArray();
  for (const GoNoGoResult& r : s.gonogo_history) w.RawValue(GoNoGoToJson(r));
  w.EndArray();
  w.EndObject();
}

}  // namespace smetsmon::report
