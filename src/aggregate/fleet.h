// Fleet aggregates: the dimensions every worker counts in, and one worker's partial windows.
//
// Cells: area x code slot x generation (region and category are derived at read time: a region is
// a set of areas, a category a set of code slots), plus, for SMETS1 only, DMC x category and
// cohort x category. Two levels: minute buckets over 1 h (views 1 m, 5 m, 1 h) and hour buckets
// over 24 h (view 24 h). Windows are merged across workers on demand (Engine::View).
//
// FleetLayout is immutable and shared. FleetPartial follows BucketRing's threading: one writer
// (its worker), concurrent readers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#include "catalog/symbols.h"
#include "smetsmon/types.h"
#include "window/bucket_ring.h"

namespace smetsmon::aggregate {

class FleetLayout {
 public:
  FleetLayout(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
              const catalog::SymbolTable& dmcs, const catalog::SymbolTable& cohorts);

  size_t area_slots() const { return area_slots_; }
  size_t code_slots() const { return code_slots_; }
  size_t categories() const { return categories_; }
  size_t dmc_limit() const { return dmc_limit_; }
  size_t cohort_limit() const { return cohort_limit_; }
  size_t main_cells() const { return area_slots_ * code_slots_ * 2; }
  size_t total_cells() const { return main_cells() + (dmc_limit_ + cohort_limit_) * categories_; }

  size_t MainCell(size_t area_slot, size_t code_slot, Generation g) const {
    return (area_slot * code_slots_ + code_slot) * 2 + (g == Generation::kSmets1 ? 0 : 1);
  }
  size_t DmcCell(uint16_t dmc, size_t category) const {
    return main_cells() + dmc * categories_ + category;
  }
  // The cells that can be non-zero while DMC ids below `dmcs` and cohort ids below `cohorts` are
  // the only ones in use: the main cells and those DMC and cohort rows.
  std::vector<std::pair<size_t, size_t>> LiveRanges(size_t dmcs, size_t cohorts) const {
    dmcs = std::min(dmcs, dmc_limit_);
    cohorts = std::min(cohorts, cohort_limit_);
    const size_t cohort_base = main_cells() + dmc_limit_ * categories_;
    return {{0, main_cells() + dmcs * categories_},
            {cohort_base, cohort_base + cohorts * categories_}};
  }
  size_t CohortCell(uint16_t cohort, size_t category) const {
    return main_cells() + dmc_limit_ * categories_ + cohort * categories_ + category;
  }

  const catalog::AreaTable& areas() const { return *areas_; }
  const catalog::AlertCatalogue& catalogue() const { return *catalogue_; }
  uint8_t CategoryOfSlot(size_t code_slot) const { return category_of_slot_[code_slot]; }
  bool IsOutageStart(size_t code_slot) const { return outage_start_[code_slot]; }
  bool IsOutageEnd(size_t code_slot) const { return outage_end_[code_slot]; }
  bool IsRestoredLong(size_t code_slot) const { return restored_long_[code_slot]; }

 private:
  const catalog::AreaTable* areas_;
  const catalog::AlertCatalogue* catalogue_;
  size_t area_slots_, code_slots_, categories_, dmc_limit_, cohort_limit_;
  std::vector<uint8_t> category_of_slot_;
  std::vector<uint8_t> outage_start_;
  std::vector<uint8_t> outage_end_;
  std::vector<uint8_t> restored_long_;
};

// The views operators read. Each maps to a level and a number of its buckets.
enum class View { k1m, k5m, k1h, k24h };
inline constexpr View kAllViews[] = {View::k1m, View::k5m, View::k1h, View::k24h};
std::string ViewName(View v);

struct WindowConfig {
  int64_t allowed_lateness_ms = 5 * kMsPerMinute;
};

class FleetPartial {
 public:
  FleetPartial(const FleetLayout& layout, const WindowConfig& config);

  void AdvanceTo(EventTime stream_time) {
    minutes_.AdvanceTo(stream_time);
    hours_.AdvanceTo(stream_time);
  }
  // Adds one alert of weight n. Returns a bitmask of the levels it was late for (1 = 1 h level,
  // 2 = 24 h level).
  int Add(EventTime t, size_t area_slot, size_t code_slot, Generation g, uint16_t dmc,
          uint16_t cohort, uint32_t n);

  // `owner`: called from the writer's thread (a faster read, nothing changes under it), summing
  // only the cells of `ranges` when given (FleetLayout::LiveRanges).
  void SumInto(View v, EventTime now, std::span<uint64_t> out, bool owner = false,
               std::span<const std::pair<size_t, size_t>> ranges = {}) const;
  // Adds to `out` (size total_cells()) the one hour bucket holding `t` (nothing when it is no
  // longer in the 24 h ring): the status page's hourly sparklines. Any thread.
  void SumHour(EventTime t, std::span<uint64_t> out) const { hours_.SumInto(t, 1, out); }
  uint64_t late_1h() const { return minutes_.late(); }
  uint64_t late_24h() const { return hours_.late(); }
  EventTime stream_time() const { return minutes_.stream_time(); }

  window::BucketRing& minutes() { return minutes_; }
  window::BucketRing& hours() { return hours_; }

 private:
  void AddTo(window::BucketRing::Cell* cells, size_t main, size_t dmc_cell, size_t cohort_cell,
             bool smets1, uint32_t n);
  const FleetLayout* layout_;
  window::BucketRing minutes_;
  window::BucketRing hours_;
};

}  // namespace smetsmon::aggregate
