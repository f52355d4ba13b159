// Process settings from <config dir>/smetsmon.yaml (configuration lane: a bad value fails startup
// with file, line and field). Durations are written "90s", "5m", "1h", "2d" or milliseconds.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "aggregate/worker.h"
#include "catalog/reference_data.h"

namespace smetsmon::app {

struct Settings {
  catalog::ReferenceOptions reference;
  aggregate::EngineConfig engine;
};

// Reads config_dir/smetsmon.yaml if it exists (defaults otherwise).
absl::StatusOr<Settings> LoadSettings(const std::string& config_dir);

// "5m" -> 300000. Nullopt when malformed.
std::optional<int64_t> ParseDurationMs(const std::string& s);

}  // namespace smetsmon::app
