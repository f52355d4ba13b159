// Per-device state update through the device table at fleet sizes, and the worker's whole
// per-event path (dedup, device, fleet windows) on decoded events in batches (Google Benchmark).
#include <benchmark/benchmark.h>

#include <span>
#include <vector>

#include "aggregate/device_state.h"
#include "aggregate/engine.h"
#include "base/flat_u64_map.h"
#include "bench_util.h"

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

// Worker::ApplyBatch over batches of 256 events from `devices` random devices, each event with its
// own alert id: the random accesses (dedup set, device key, device state) dominate, and the
// grouped prefetching in ApplyBatch is what keeps them overlapped.
void BM_WorkerApplyBatch(benchmark::State& state) {
  static const catalog::ReferenceData ref = bench::LoadReference();
  const auto devices = static_cast<uint64_t>(state.range(0));
  aggregate::EngineConfig config;
  config.expected_devices = devices;
  aggregate::Engine engine(ref, config);
  aggregate::Worker& worker = engine.worker(0);
  // A cycle of events long enough (7 ms apart, over the 1 h dedup horizon) that an alert id
  // comes round again only after it has expired: every event is accepted.
  constexpr size_t kCycle = size_t{1} << 20;
  std::vector<AlertEvent> events(kCycle);
  uint64_t x = 1;
  for (size_t i = 0; i < kCycle; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    AlertEvent& e = events[i];
    e.device = DeviceId{0x00DB000000000000ULL + (x >> 20) % devices};
    e.alert_fingerprint = Mix64(i + 1);
    e.code = AlertCode{0x8F40};
    e.generation = Generation::kSmets2;
    e.area = AreaId{static_cast<uint8_t>(i % 14)};
  }
  int64_t t = 1687780800000;
  size_t at = 0;
  constexpr size_t kBatch = 256;
  for (auto _ : state) {
    for (size_t i = at; i < at + kBatch; ++i) events[i].event_time = EventTime{t += 7};
    worker.ApplyBatch(std::span(events).subspan(at, kBatch));
    at = (at + kBatch) % kCycle;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_WorkerApplyBatch)->Arg(1'000'000)->Arg(10'000'000);

}  // namespace
}  // namespace smetsmon
