// The migration load (rules/migration_load.h) written for people: a JSON object for the API and
// the daily history files, and a section of the Go/No-Go text report. The rules decide, this
// writes. Pure functions; thread-safe.
#pragma once

#include <string>

#include "base/json_writer.h"
#include "rules/migration_load.h"

namespace smetsmon::report {

// Writes `m` as one JSON value (an object; the caller writes its key).
void WriteMigrationLoadJson(JsonWriter& w, const rules::MigrationLoad& m);

// The text report's section: a heading, the projection in words, the projections and the
// recent vs established figures per DMC and cohort. Ends with a newline.
std::string MigrationLoadToText(const rules::MigrationLoad& m);

}  // namespace smetsmon::report
