// Fleet window update (minute and hour rings, main + DMC + cohort cells) (Google Benchmark).
#include <benchmark/benchmark.h>

#include "aggregate/fleet.h"
#include "bench_util.h"

namespace smetsmon {
namespace {

void BM_FleetAdd(benchmark::State& state) {
  auto ref = bench::LoadReference();
  aggregate::FleetLayout layout(*ref.areas, *ref.catalogue, *ref.dmcs, *ref.cohorts);
  aggregate::FleetPartial fleet(layout, aggregate::WindowConfig{});
  int64_t t = 1687780800000;
  uint64_t i = 0;
  for (auto _ : state) {
    t += 3;  // ~330 alerts per second of event time: buckets roll over during the run
    fleet.AdvanceTo(EventTime{t});
    benchmark::DoNotOptimize(fleet.Add(EventTime{t}, i % 15, i % layout.code_slots(),
                                       i & 1 ? Generation::kSmets1 : Generation::kSmets2,
                                       static_cast<uint16_t>(i % 8), static_cast<uint16_t>(i % 3),
                                       1));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FleetAdd);

void BM_ViewMerge24h(benchmark::State& state) {
  auto ref = bench::LoadReference();
  aggregate::FleetLayout layout(*ref.areas, *ref.catalogue, *ref.dmcs, *ref.cohorts);
  aggregate::FleetPartial fleet(layout, aggregate::WindowConfig{});
  const EventTime now{1687780800000};
  fleet.AdvanceTo(now);
  std::vector<uint64_t> out(layout.total_cells());
  for (auto _ : state) {
    fleet.SumInto(aggregate::View::k24h, now, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ViewMerge24h);

}  // namespace
}  // namespace smetsmon
