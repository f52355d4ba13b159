// POST /api/v1/gonogo/override: an operator records an override of one Go/No-Go criterion, or of
// the overall RAG, on the latest daily decision (rules/gonogo.h, GoNoGoOverride), with a reason
// and who decided. The body is one JSON object:
//
//   {"criterion": "<criterion id>" | "overall", "rag": "green" | "amber" | "red",
//    "reason": "<why, not blank>", "by": "<who, not blank>"}
//
// Unknown keys, a key given twice, a wrong type, an unknown criterion, a bad RAG or a blank
// reason or `by` are a 400 naming what is wrong; before the first daily decision there is
// nothing to override (409). The answer (200) is the override as recorded and the decision as it
// now stands (report::GoNoGoToJson). Who may call it (a configured bearer token) is checked by
// the API's router (app/api.cc) before this.
//
// Thread-safety: called on the HTTP io thread; Evaluator::RecordGoNoGoOverride never waits for
// an evaluation. Time: `now` (processing time) stamps the override for the record.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "http/server.h"
#include "rules/evaluator.h"
#include "rules/gonogo.h"
#include "smetsmon/types.h"

namespace smetsmon::app {

// The override a request body asks for (recorded_at_ms left 0), or InvalidArgument naming the
// problem. Checks the JSON's shape and types only; the criterion, RAG and texts are validated
// against the decision (rules::ValidateOverride) when recorded. A RAG is read case-insensitively.
absl::StatusOr<rules::GoNoGoOverride> ParseGoNoGoOverride(std::string_view body);

// Parses, records and answers (200, 400, 409 or 429 when the decision has too many overrides).
http::Response RecordGoNoGoOverride(rules::Evaluator& evaluator, std::string_view body,
                                    ProcessingTime now);

}  // namespace smetsmon::app
