// The DNO area table (config/areas.yaml): distributor id, GSP group, name, DNO group, DCC comms
// region and the approximate meter count used to weight generated populations.
//
// Immutable after Load(); safe to share between threads. Lookups are array indexed (hot path).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "smetsmon/types.h"

namespace smetsmon::catalog {

struct Area {
  int distributor_id = 0;  // MPAN first two digits, 10-23
  char gsp_group = 0;      // 'A'..'P' (written "_A" in events)
  std::string name;        // "Eastern"
  std::string dno_group;   // "UK Power Networks"
  RegionId region = kUnknownRegion;
  int64_t meters = 0;  // approximate installed meters, a weight for generated data
};

class AreaTable {
 public:
  static absl::StatusOr<AreaTable> Load(const std::string& path);

  size_t size() const { return areas_.size(); }
  const Area& area(AreaId id) const { return areas_[id.value]; }
  const std::vector<Area>& areas() const { return areas_; }
  const std::vector<std::string>& regions() const { return regions_; }

  AreaId ByDistributorId(int id) const {
    return id >= 0 && id < 100 ? by_distributor_[static_cast<size_t>(id)] : kUnknownArea;
  }
  AreaId ByGspGroup(char gsp) const {
    return gsp >= 'A' && gsp <= 'P' ? by_gsp_[static_cast<size_t>(gsp - 'A')] : kUnknownArea;
  }
  RegionId RegionOf(AreaId a) const {
    return a == kUnknownArea ? kUnknownRegion : areas_[a.value].region;
  }
  // Stable label for reports and metrics: the area name's slug ("north_west") or "unknown".
  const std::string& Label(AreaId a) const;
  const std::string& RegionLabel(RegionId r) const;
  // Dense index including "unknown" as the last slot: for arrays sized size() + 1.
  size_t Slot(AreaId a) const { return a == kUnknownArea ? areas_.size() : a.value; }
  AreaId FromSlot(size_t slot) const {
    return slot == areas_.size() ? kUnknownArea : AreaId{static_cast<uint8_t>(slot)};
  }

 private:
  std::vector<Area> areas_;
  std::vector<std::string> labels_;
  std::vector<std::string> regions_;
  std::array<AreaId, 100> by_distributor_{};
  std::array<AreaId, 16> by_gsp_{};
};

}  // namespace smetsmon::catalog
