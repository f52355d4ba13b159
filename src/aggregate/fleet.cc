#include "aggregate/fleet.h"

#include "smetsmon/status.h"

namespace smetsmon::aggregate {

FleetLayout::FleetLayout(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
                         const catalog::SymbolTable& dmcs, const catalog::SymbolTable& cohorts)
    : areas_(&areas),
      catalogue_(&catalogue),
      area_slots_(areas.size() + 1),
      code_slots_(catalogue.slot_count()),
      categories_(catalogue.categories().size()),
      dmc_limit_(dmcs.id_limit()),
      cohort_limit_(cohorts.id_limit()) {
  for (size_t s = 0; s < code_slots_; ++s) {
    const auto slot = static_cast<catalog::CodeSlot>(s);
    const uint8_t cat = catalogue.CategoryOfSlot(slot);
    category_of_slot_.push_back(cat);
    const std::string& name = catalogue.categories()[cat];
    outage_start_.push_back(name == "outage.start");
    outage_end_.push_back(name.rfind("outage.restored", 0) == 0);
    restored_long_.push_back(name == "outage.restored_long");
  }
}

std::string ViewName(View v) {
  switch (v) {
    case View::k1m:
      return "1m";
    case View::k5m:
      return "5m";
    case View::k1h:
      return "1h";
    case View::k24h:
      return "24h";
  }
  return "?";
}

FleetPartial::FleetPartial(const FleetLayout& layout, const WindowConfig& config)
    : layout_(&layout),
      minutes_(kMsPerMinute, 60, config.allowed_lateness_ms, layout.total_cells()),
      hours_(kMsPerHour, 24, config.allowed_lateness_ms, layout.total_cells()) {}

void FleetPartial::AddTo(window::BucketRing::Cell* cells, size_t main, size_t dmc_cell,
                         size_t cohort_cell, bool smets1, uint32_t n) {
  window::BucketRing::Bump(cells[main], n);
  if (smets1) {
    window::BucketRing::Bump(cells[dmc_cell], n);
    window::BucketRing::Bump(cells[cohort_cell], n);
  }
}

int FleetPartial::Add(EventTime t, size_t area_slot, size_t code_slot, Generation g, uint16_t dmc,
                      uint16_t cohort, uint32_t n) {
  const size_t main = layout_->MainCell(area_slot, code_slot, g);
  const size_t category = layout_->CategoryOfSlot(code_slot);
  const size_t dmc_cell = layout_->DmcCell(dmc, category);
  const size_t cohort_cell = layout_->CohortCell(cohort, category);
  const bool smets1 = g == Generation::kSmets1;
  int late = 0;
  if (auto* cells = minutes_.BucketFor(t)) {
    AddTo(cells, main, dmc_cell, cohort_cell, smets1, n);
  } else {
    late |= 1;
  }
  if (auto* cells = hours_.BucketFor(t)) {
    AddTo(cells, main, dmc_cell, cohort_cell, smets1, n);
  } else {
    late |= 2;
  }
  return late;
}

void FleetPartial::SumInto(View v, EventTime now, std::span<uint64_t> out, bool owner,
                           std::span<const std::pair<size_t, size_t>> ranges) const {
  const window::BucketRing& ring = v == View::k24h ? hours_ : minutes_;
  const int buckets = v == View::k1m ? 1 : v == View::k5m ? 5 : v == View::k1h ? 60 : 24;
  if (owner) {
    ring.SumIntoOwned(now, buckets, out, ranges);
  } else {
    ring.SumInto(now, buckets, out);
  }
}

}  // namespace smetsmon::aggregate
