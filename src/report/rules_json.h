// JSON renderings of the rules' published state, shared by the replay report and the HTTP API:
// the rules decide, this module writes.
// Pure functions of their inputs; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "base/json_writer.h"
#include "rules/evaluator.h"

namespace smetsmon::report {

using rules::DeliveryRow;
using rules::Finding;
using rules::RulesSnapshot;
using rules::WhatIfRow;

void WriteFinding(JsonWriter& w, const Finding& f);
// {"open":[...],"closed":[...]}
void WriteFindings(JsonWriter& w, const RulesSnapshot& s);
// [{rule, scope, window, current_dv, alerts, levels:[{level_dv, stopped, share}], sentence}]
void WriteWhatIf(JsonWriter& w, const std::vector<WhatIfRow>& rows);
// {latency_bounds_ms, csp_rows:[{priority, csp, regions, window, delivered, within_target,
//  share_within_target, rag, target_ms, ..., latency_buckets}], rows:[{priority, region, ...}]}
void WriteDelivery(JsonWriter& w, const std::vector<DeliveryRow>& rows,
                   const std::vector<rules::CspDeliveryRow>& csp_rows,
                   const std::vector<int64_t>& latency_bounds_ms);
// {"count", "smets1", "by_area":{}, "by_dmc":{}, "top":[...], "top_by_area":{area:[...]},
//  "top_by_dmc":{dmc:[...]}}
void WriteNoisy(JsonWriter& w, const RulesSnapshot& s);
// {"current": {...}, "history": [...]}
void WriteGoNoGo(JsonWriter& w, const RulesSnapshot& s);
// {"evaluated_at_ms", "by_basis":{learning, provisional, learned}, "plateaus_accepted",
//  "scopes_dropped", "scopes":[{scope, label, basis, rate_per_hour, expected_per_hour,
//  threshold_per_hour, level_per_hour, known_hours, storming, ceiling, observed_at_ms}]}
void WriteStorms(JsonWriter& w, const RulesSnapshot& s);

}  // namespace smetsmon::report
