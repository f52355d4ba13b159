// Per-device state update through the device table at fleet sizes (Google Benchmark).
#include <benchmark/benchmark.h>

#include "aggregate/device_state.h"
#include "base/flat_u64_map.h"

namespace smetsmon {
namespace {

void BM_DeviceUpdate(benchmark::State& state) {
  const auto devices = static_cast<uint64_t>(state.range(0));
  FlatU64Map<aggregate::DeviceState> table(devices);
  bool inserted = false;
  // Fill as the engine does: every device gets state (so the value pages are resident).
  for (uint64_t d = 0; d < devices; ++d) {
    table.FindOrInsert(0x00DB000000000000ULL + d, &inserted)
        .Apply(EventTime{1687780800000}, AlertCode{0x8F40}, 1, false, 0, false, false);
  }
  uint64_t x = 1;
  int64_t t = 1687780800000;
  for (auto _ : state) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t id = 0x00DB000000000000ULL + (x >> 20) % devices;
    t += 7;
    table.FindOrInsert(id, &inserted)
        .Apply(EventTime{t}, AlertCode{0x8F40}, 1, true, 2540, false, false);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeviceUpdate)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);

}  // namespace
}  // namespace smetsmon
