// The device inventory (contract CSV: device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on):
// per-device enrichment for events that lack fields, and installation counts per area,
// generation, DMC and cohort (denominators for per-installation rates), and SMETS1 installation
// days per DMC x cohort (recent vs established installations, rules/migration_load.h).
//
// Loaded once at startup with a hand-written parser over an mmap of the file (tens of millions of
// lines in seconds); immutable afterwards and safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/flat_u64_map.h"
#include "catalog/areas.h"
#include "catalog/symbols.h"
#include "smetsmon/types.h"

namespace smetsmon::catalog {

struct InventoryRecord {
  uint64_t mpxn = 0;
  int32_t installed_day = 0;  // days since 1970-01-01, 0 = unknown
  DmcId dmc{0};
  CohortId cohort{0};
  AreaId area = kUnknownArea;
  Generation generation = Generation::kUnknown;
};

// The 16-bit installation day an AlertEvent carries: 0 (unknown) outside 1 .. 65535 (2149-06-06).
inline uint16_t InstalledDay16(int32_t day) {
  return day > 0 && day <= 0xFFFF ? static_cast<uint16_t>(day) : uint16_t{0};
}

// The SMETS1 premises of one DMC x cohort with a known installation day, as a sorted list of
// days: how many were installed in any range of days is two binary searches, so the
// migration-load rule counts recent installations at each evaluation without scanning the fleet.
struct Smets1InstallDays {
  DmcId dmc{0};
  CohortId cohort{0};
  std::vector<uint16_t> days;  // ascending

  // Premises installed on a day in [first_day, last_day] (inclusive; empty when first > last).
  uint64_t CountBetween(int32_t first_day, int32_t last_day) const;
};

struct InventoryLoadStats {
  uint64_t rows = 0;
  uint64_t bad_rows = 0;
  uint64_t first_bad_line = 0;  // 1-based, 0 when none
  uint64_t duplicate_rows = 0;  // later rows for a device replace earlier ones
};

class Inventory {
 public:
  Inventory(const AreaTable& areas, SymbolTable& dmcs, SymbolTable& cohorts);

  // Bad rows are counted and skipped (stats); a missing file or wrong header is an error.
  absl::Status LoadCsv(const std::string& path);
  // Adds or replaces one device (used by the loader and by tests).
  void Add(DeviceId id, const InventoryRecord& record);

  const InventoryRecord* Find(DeviceId id) const { return devices_.Find(id.value); }
  size_t size() const { return devices_.size(); }
  const InventoryLoadStats& stats() const { return stats_; }

  // Device counts. Area arrays are indexed by AreaTable::Slot (unknown last); DMC and cohort
  // arrays by symbol id.
  const std::vector<uint64_t>& installs_by_area() const { return by_area_; }
  uint64_t installs_by_generation(Generation g) const {
    return by_generation_[static_cast<int>(g)];
  }
  const std::vector<uint64_t>& installs_by_dmc() const { return by_dmc_; }
  const std::vector<uint64_t>& installs_by_cohort() const { return by_cohort_; }

  // Premises: what DCC calls installations (a comms hub and its meters share the premises' MPAN
  // and count once; a device without an MPAN counts as its own premises). Same indexing as
  // above. Computed by LoadCsv, and by RecountPremises after Add.
  const std::vector<uint64_t>& premises_by_area() const { return premises_by_area_; }
  uint64_t premises_by_generation(Generation g) const {
    return premises_by_generation_[static_cast<int>(g)];
  }
  const std::vector<uint64_t>& premises_by_dmc() const { return premises_by_dmc_; }
  // SMETS1 premises by DMC x cohort and installation day (InstalledDay16 of the device counted
  // for the premises), ordered by DMC id then cohort id; and the SMETS1 premises without one.
  const std::vector<Smets1InstallDays>& smets1_install_days() const { return smets1_days_; }
  uint64_t smets1_undated_premises() const { return smets1_undated_; }
  void RecountPremises();

 private:
  bool ParseRow(std::string_view line, DeviceId* id, InventoryRecord* rec);
  void Count(const InventoryRecord& rec, int64_t sign);

  const AreaTable* areas_;
  SymbolTable* dmcs_;
  SymbolTable* cohorts_;
  SymbolCache dmc_cache_;
  SymbolCache cohort_cache_;
  FlatU64Map<InventoryRecord> devices_;
  InventoryLoadStats stats_;
  std::vector<uint64_t> by_area_;
  uint64_t by_generation_[3] = {0, 0, 0};
  std::vector<uint64_t> by_dmc_;
  std::vector<uint64_t> by_cohort_;
  std::vector<uint64_t> premises_by_area_;
  uint64_t premises_by_generation_[3] = {0, 0, 0};
  std::vector<uint64_t> premises_by_dmc_;
  std::vector<Smets1InstallDays> smets1_days_;
  uint64_t smets1_undated_ = 0;
};

}  // namespace smetsmon::catalog
