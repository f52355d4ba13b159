// The per-event part of the migration-load rule (rules/migration_load.h): one worker's SMETS1
// alerts over the last 24 h per DMC x cohort x installation class, where the class is "recent"
// (installed within `recent_days` of the alert's event time) or "established" (installed
// earlier). The installation day comes with the event (AlertEvent::installed_day, from the
// inventory); alerts of devices without one, or raised before their recorded installation day,
// are not counted here (they are in the fleet's SMETS1 totals).
//
// The class is decided at the alert's event time, once: a device that crosses the recent_days
// boundary while its alerts are in the window keeps, for those alerts, the class they were
// counted in.
//
// Time domain: event time (hour buckets over 24 h, as the fleet's 24 h view). Thread-safety: one
// writer, its worker (Add, AdvanceTo, SumOwned); the ring is checkpointed with the worker's other
// rule-input windows (RuleInputs::MutableRings). No lock, no allocation per event.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "smetsmon/types.h"
#include "window/bucket_ring.h"

namespace smetsmon::aggregate {

// The cell layout, shared by the workers and the rules: [DMC id][cohort column][class].
struct MigrationLayout {
  // Beyond this many cells per worker the cohort dimension folds into one column (cohort id 0)
  // rather than grow the ring: 256 DMC x 32 cohort ids (the defaults) are 16,384 cells.
  static constexpr size_t kMaxCells = size_t{1} << 17;

  size_t dmc_limit = 1;
  size_t cohort_columns = 1;  // the cohort id limit, or 1 when folded
  int32_t recent_days = 30;

  static MigrationLayout Make(size_t dmc_limit, size_t cohort_limit, int32_t recent_days) {
    MigrationLayout l;
    l.dmc_limit = dmc_limit;
    l.cohort_columns = dmc_limit * cohort_limit * 2 <= kMaxCells ? cohort_limit : 1;
    l.recent_days = recent_days;
    return l;
  }
  bool cohorts_folded() const { return cohort_columns == 1; }
  size_t cells() const { return dmc_limit * cohort_columns * 2; }
  size_t Cell(uint16_t dmc, uint16_t cohort, bool recent) const {
    const size_t column = cohorts_folded() ? 0 : cohort;
    return (dmc * cohort_columns + column) * 2 + (recent ? 0 : 1);
  }
  // The installation class at day `day` of a device installed on `installed_day` (both days
  // since 1970-01-01): 1 recent (installed_day <= day < installed_day + recent_days),
  // 2 established (later), 0 neither (no installation day, or `day` before it). The same rule
  // classes alerts at their event time and installations at the evaluation time.
  int ClassAt(int64_t day, int32_t installed_day) const {
    if (installed_day <= 0 || day < installed_day) return 0;
    return day - installed_day < recent_days ? 1 : 2;
  }
  // The cell ranges that can be non-zero while DMC ids below `dmcs` and cohort ids below
  // `cohorts` are the only ones in use.
  std::vector<std::pair<size_t, size_t>> LiveRanges(size_t dmcs, size_t cohorts) const {
    std::vector<std::pair<size_t, size_t>> ranges;
    dmcs = std::min(dmcs, dmc_limit);
    const size_t columns = cohorts_folded() ? 1 : std::min(cohorts, cohort_columns);
    for (size_t d = 0; d < dmcs; ++d) {
      const size_t begin = d * cohort_columns * 2;
      ranges.emplace_back(begin, begin + columns * 2);
    }
    return ranges;
  }
};

class MigrationInputs {
 public:
  MigrationInputs(const MigrationLayout& layout, int64_t allowed_lateness_ms)
      : layout_(layout), hours_(kMsPerHour, 24, allowed_lateness_ms, layout.cells()) {}

  void AdvanceTo(EventTime stream_time) { hours_.AdvanceTo(stream_time); }

  // One accepted alert of weight n (the event's throttled count).
  void Add(const AlertEvent& e, uint32_t n) {
    if (e.generation != Generation::kSmets1 || e.installed_day == 0) return;
    if (e.dmc.value >= layout_.dmc_limit ||
        (!layout_.cohorts_folded() && e.cohort.value >= layout_.cohort_columns)) {
      return;  // ids come from the symbol tables the layout was sized by: never in practice
    }
    const int64_t ms = e.event_time.ms;
    const int64_t day = ms >= 0 ? ms / kMsPerDay : (ms - kMsPerDay + 1) / kMsPerDay;
    const int cls = layout_.ClassAt(day, e.installed_day);
    if (cls == 0) return;
    if (auto* cells = hours_.BucketFor(e.event_time)) {
      window::BucketRing::Bump(cells[layout_.Cell(e.dmc.value, e.cohort.value, cls == 1)], n);
    }
  }

  // Owner thread: adds the last 24 h ending with the hour holding `now` into `out`
  // (size layout().cells()), summing only DMC ids below `dmcs` and cohort ids below `cohorts`.
  void SumOwned(EventTime now, std::span<uint64_t> out, size_t dmcs, size_t cohorts) const {
    const auto ranges = layout_.LiveRanges(dmcs, cohorts);
    hours_.SumIntoOwned(now, 24, out, ranges);
  }

  const MigrationLayout& layout() const { return layout_; }
  window::BucketRing& ring() { return hours_; }

 private:
  MigrationLayout layout_;
  window::BucketRing hours_;
};

}  // namespace smetsmon::aggregate
