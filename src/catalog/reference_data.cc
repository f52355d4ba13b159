#include "catalog/reference_data.h"

#include "smetsmon/status.h"

namespace smetsmon::catalog {

absl::StatusOr<ReferenceData> LoadReferenceConfig(const ReferenceOptions& options) {
  ReferenceData ref;
  SMETSMON_ASSIGN_OR_RETURN(AreaTable areas, AreaTable::Load(options.config_dir + "/areas.yaml"));
  ref.areas = std::make_unique<AreaTable>(std::move(areas));
  SMETSMON_ASSIGN_OR_RETURN(AlertCatalogue catalogue,
                            AlertCatalogue::Load(options.config_dir + "/alert_catalogue.yaml"));
  ref.catalogue = std::make_unique<AlertCatalogue>(std::move(catalogue));
  ref.dmcs = std::make_unique<SymbolTable>("dmc", options.max_dmcs);
  ref.cohorts = std::make_unique<SymbolTable>("cohort", options.max_cohorts);
  return ref;
}

absl::StatusOr<ReferenceData> LoadReferenceData(const ReferenceOptions& options) {
  SMETSMON_ASSIGN_OR_RETURN(ReferenceData ref, LoadReferenceConfig(options));
  if (!options.inventory_csv.empty()) {
    ref.inventory = std::make_unique<Inventory>(*ref.areas, *ref.dmcs, *ref.cohorts);
    SMETSMON_RETURN_IF_ERROR(ref.inventory->LoadCsv(options.inventory_csv));
  }
  return ref;
}

}  // namespace smetsmon::catalog
