// The alert load the SMETS1 migration plan implies, a Go/No-Go criterion. The DNOs feared "100
// alerts per device per day by the time 70,000 have migrated": this turns that fear into a number
// before it happens. From the inventory's installed_on, SMETS1 alerts per installation per day of
// the installations migrated in the last `recent_days` ("recent") against the established estate,
// per DMC and cohort, and the SMETS1 alerts per day projected after 7 and 30 days of the planned
// migration volume at the recent installations' rate, against capacity:
//
//   projected(D) = current + planned_per_day x D x recent_rate
//   share(D)     = projected(D) / capacity.smets1_alerts_per_day
//
// where current = SMETS1 alerts in the last 24 h (all of them, the fleet's 24 h view) and
// recent_rate = SMETS1 alerts in the last 24 h of recent installations / recent installations.
// Installations are premises (a hub and its meters count once, as DCC counts installations).
// An installation is recent at day d when installed_day <= d < installed_day + recent_days;
// alerts are classed at their event time (aggregate/migration_inputs.h), installations at the
// evaluation's day.
//
// Missing data is never green: without an inventory, without dated SMETS1 installations, without
// recent installations or without a planned volume the projection is unavailable (the criterion
// is "unknown", which keeps the overall from "go"); without a capacity the per-day figures are
// given and the shares are unavailable.
//
// Time domain: event time (`now` is the evaluation time). Pure functions; thread-safe.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "aggregate/migration_inputs.h"
#include "base/binary_file.h"
#include "catalog/inventory.h"
#include "catalog/symbols.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

struct MetricValue;  // rules/gonogo.h

// The projection horizons, in days of planned migrations.
inline constexpr int32_t kMigrationProjectionDays[] = {7, 30};

struct MigrationLoadRow {
  std::string dmc, cohort;  // cohort "all" when the cohort dimension is folded (many ids)
  uint64_t recent_installations = 0, established_installations = 0;
  uint64_t recent_alerts_24h = 0, established_alerts_24h = 0;
  // Alerts per installation per day; NaN when the class has no installations.
  double recent_rate() const;
  double established_rate() const;
};

struct MigrationProjection {
  int32_t days = 0;
  uint64_t new_installations = 0;  // planned_per_day x days
  double alerts_per_day = 0;       // current + new_installations x recent_rate
  double share_of_capacity = NAN;  // alerts_per_day / capacity; NaN without a capacity
};

struct MigrationLoad {
  // True when the projections could be made; otherwise `reason` says what is missing.
  bool available = false;
  std::string reason;
  int32_t recent_days = 30;
  uint64_t planned_installations_per_day = 0;
  uint64_t capacity_per_day = 0;  // 0 = not configured
  uint64_t current_smets1_alerts_24h = 0;
  uint64_t recent_installations = 0, established_installations = 0;
  uint64_t undated_installations = 0;  // SMETS1 premises the inventory gives no installed_on
  uint64_t recent_alerts_24h = 0, established_alerts_24h = 0;
  double recent_rate = NAN, established_rate = NAN;  // NaN without installations in the class
  // Days of the planned volume until the projected load reaches capacity (NaN when it never
  // does at this rate, or without a capacity; 0 when the current load already does).
  double days_to_capacity = NAN;
  std::vector<MigrationProjection> projections;  // kMigrationProjectionDays, in order
  std::vector<MigrationLoadRow> rows;            // by DMC name, then cohort name
};

struct MigrationLoadParams {
  uint64_t planned_installations_per_day = 0;  // 0 = not configured: unavailable
  uint64_t capacity_per_day = 0;               // 0 = not configured
};

// Computes the load at `now` from the rules' readings: `cells_24h` (MigrationLayout cells, the
// workers' 24 h sums), the fleet's SMETS1 alerts in the same 24 h, and the inventory's
// installation days (null: no inventory).
MigrationLoad ComputeMigrationLoad(const aggregate::MigrationLayout& layout,
                                   const catalog::Inventory* inventory,
                                   const catalog::SymbolTable& dmcs,
                                   const catalog::SymbolTable& cohorts,
                                   std::span<const uint64_t> cells_24h,
                                   uint64_t current_smets1_alerts_24h,
                                   const MigrationLoadParams& params, EventTime now);

// The Go/No-Go metrics it gives (unavailable ones with the reason):
//   projected_smets1_alerts_per_day_7d, projected_smets1_alerts_per_day_30d,
//   projected_smets1_alerts_7d_share_of_capacity, projected_smets1_alerts_30d_share_of_capacity,
//   smets1_recent_alerts_per_installation_per_day,
//   smets1_established_alerts_per_installation_per_day.
void AddMigrationLoadMetrics(const MigrationLoad& m, std::map<std::string, MetricValue>* metrics);

// One load in full, for a Go/No-Go result's history; malformed bytes fail the reader.
void SaveMigrationLoad(BinaryWriter& w, const MigrationLoad& m);
MigrationLoad LoadMigrationLoad(BinaryReader& r);

}  // namespace smetsmon::rules
