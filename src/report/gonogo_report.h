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
// "detail","explanation"}],"dmcs":[{"dmc","installations","alerts_24h",
// "alerts_per_installation","noisy_devices"}],"areas":[{"area","dno_group","region",
// "smets1_alerts_24h","dno_flood_alerts_24h","dno_flood_threshold","open_findings"}]}.
// "direction" is "higher_is_worse" or "lower_is_worse"; a value without data (or not finite) is
// null; integral values are written exactly, others with 6 significant digits.
std::string GoNoGoToJson(const rules::GoNoGoResult& r);

// A plain-text report (ASCII, fixed-width columns, thousands separators): title with the local
// date/time, overall RAG and recommendation, the criteria table and their explanations, per-DMC
// and per-area tables, then the notes.
std::string GoNoGoToText(const rules::GoNoGoResult& r);

// Writes <history_dir>/gonogo-<local_date>.json and .txt (creating the directory if missing;
// each file written to a temporary and renamed; a second decision the same local day replaces
// them). Empty `history_dir`: nothing. A write error comes back as a Status.
absl::Status WriteGoNoGoHistory(const std::string& history_dir, const rules::GoNoGoResult& r);

}  // namespace smetsmon::report
