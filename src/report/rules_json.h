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
void WriteDelivery(JsonWriter& w, const std::vector<DeliveryRow>& rows,
                   const std::vector<int64_t>& latency_bounds_ms);
// {"count", "smets1", "by_area":{}, "by_dmc":{}, "top":[...], "top_by_area":{area:[...]},
//  "top_by_dmc":{dmc:[...]}}
void WriteNoisy(JsonWriter& w, const RulesSnapshot& s);
// {"current": {...}, "history": [...]}
void WriteGoNoGo(JsonWriter& w, const RulesSnapshot& s);

}  // namespace smetsmon::report
