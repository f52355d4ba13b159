// The replay report: what was read and how it was counted, cumulative alert counts by category,
// area, region, generation and code, and the sliding-window views at the end of the stream.
// Built from the engine's read side; owner-stopped or concurrent reads are both fine.
#pragma once

#include <string>

#include "aggregate/engine.h"
#include "rules/evaluator.h"

namespace smetsmon::report {

struct ReplayStats {
  uint64_t lines_read = 0;
  uint64_t files = 0;
  double seconds = 0;  // wall time of the replay, for the human summary only
};

// One JSON object, no newline. Keys with a zero count are omitted from "rejected". With the
// rules' final state (`rules` non-null) it gains "findings", "whatif", "delivery", "noisy" and
// "gonogo" sections.
std::string BuildReportJson(const aggregate::Engine& engine, const ReplayStats& stats,
                            const rules::RulesSnapshot* rules = nullptr);
// A short plain-text summary for a person at a terminal (with the rules' conclusions if given).
std::string BuildReportText(const aggregate::Engine& engine, const ReplayStats& stats,
                            const rules::RulesSnapshot* rules = nullptr);

}  // namespace smetsmon::report
