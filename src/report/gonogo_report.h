// The SMETS1 Go/No-Go written for people and programs: the JSON object of one evaluation, the
// plain-text report an operator could send to the OPSG, and the daily decision's history files.
// The rules decide (rules/gonogo.h); this writes. Pure functions but for the files; thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "rules/gonogo.h"

namespace smetsmon::report {

// One JSON object: {"at_ms","local_date","local_time","daily","overall","recommendation",
// "notes":[...],"criteria":[{"id","metric","value","amber","red","direction","available","rag",
// "detail","explanation","effective_rag","overridden"[,"previous","change"]}],"dmcs":[{"dmc",
// "installations","alerts_24h","alerts_per_installation","noisy_devices"}],"areas":[{"area",
// "dno_group","region","smets1_alerts_24h","dno_flood_alerts_24h","dno_flood_threshold",
// "open_findings"}],"effective_overall","effective_recommendation","overall_overridden"
// [,"previous_decision","overall_change"],"overrides":[{"criterion","rag","computed_rag","reason",
// "by","recorded_at_ms","recorded_at"}]}.
// "overall"/"rag" are computed; "effective_*" are in force after the operators' overrides. The
// bracketed keys are for daily decisions: "previous" is the criterion in the previous decision
// ({"rag","overridden","available","value"}, null when there was none or the criterion is new),
// "change" and "overall_change" a RagChangeName, "previous_decision" {"local_date","overall",
// "overall_overridden"} or null. "direction" is "higher_is_worse" or "lower_is_worse"; a value
// without data (or not finite) is null; integral values are written exactly, others with 6
// significant digits.
std::string GoNoGoToJson(const rules::GoNoGoResult& r);

// A plain-text report (ASCII, fixed-width columns, thousands separators): title with the local
// date/time, the overall RAG in force (and the computed one when an override changed it), the
// recommendation, the change since the previous decision; the decision as the LSC table records
// it (criterion, RAG, reason, and for daily decisions what changed since the previous decision,
// RAG and value); the overrides (who, when, why); the criteria's figures and explanations,
// per-DMC and per-area tables, then the notes.
std::string GoNoGoToText(const rules::GoNoGoResult& r);

// The same report as one self-contained, printable HTML5 document (report/status_html.h: inline
// CSS and SVG, no script, no external URL; everything from configuration or data escaped): the
// overall in force and the recommendation, the change since the previous decision, the criteria
// with their charts against the thresholds, the overrides, the per-DMC and per-area tables with
// bars, the migration load and the notes. For the OPSG and GET /reports/gonogo/<date>.html.
std::string GoNoGoToHtml(const rules::GoNoGoResult& r);

// Writes <history_dir>/gonogo-<local_date>.json, .txt and .html (creating the directory if missing;
// each file written to a temporary and renamed; a second decision the same local day replaces
// them). Empty `history_dir`: nothing. A write error comes back as a Status.
absl::Status WriteGoNoGoHistory(const std::string& history_dir, const rules::GoNoGoResult& r);

}  // namespace smetsmon::report
