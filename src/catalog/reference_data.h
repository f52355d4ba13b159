// Everything loaded from config/ and the inventory at startup, bundled: the area table, the alert
// catalogue, the DMC and cohort symbol tables, and the optional inventory. Built once (config
// lane: returns a Status naming file, line and field), then shared read-only by every thread
// (symbol tables are internally locked).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#include "catalog/inventory.h"
#include "catalog/symbols.h"

namespace smetsmon::catalog {

struct ReferenceData {
  std::unique_ptr<AreaTable> areas;
  std::unique_ptr<AlertCatalogue> catalogue;
  std::unique_ptr<SymbolTable> dmcs;
  std::unique_ptr<SymbolTable> cohorts;
  std::unique_ptr<Inventory> inventory;  // null when none was given
};

struct ReferenceOptions {
  std::string config_dir = "config";
  std::string inventory_csv;  // empty = none
  size_t max_dmcs = 254;
  size_t max_cohorts = 30;
};

// Loads areas.yaml and alert_catalogue.yaml from config_dir, then the inventory if named.
absl::StatusOr<ReferenceData> LoadReferenceData(const ReferenceOptions& options);

// The same without an inventory, creating empty symbol tables (tests, and before a snapshot
// restores symbols).
absl::StatusOr<ReferenceData> LoadReferenceConfig(const ReferenceOptions& options);

}  // namespace smetsmon::catalog
