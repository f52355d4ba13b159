// Per-device state update through the device table at fleet sizes, the duplicate filter at a peak
// hour, and the worker's whole per-event path (dedup, device, fleet windows) on decoded events in
// batches (Google Benchmark).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include "aggregate/dedup_filter.h"
#include "aggregate/device_state.h"
#include "aggregate/engine.h"
#include "aggregate/virtual_shard.h"
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

// The duplicate filter at the default capacity and horizon over a peak hour (6 M distinct ids
// from 2 M devices, three times the national average), with the worker's prefetch pipeline (the
// primary sets two groups of 32 ahead, the other sets one group ahead when a lookup will read
// them). Each iteration fills a fresh filter; `other_set_share` is the share of lookups that read
// a second set (a second cache line).
void BM_DedupPeakHour(benchmark::State& state) {
  const aggregate::EngineConfig defaults;
  constexpr uint64_t kIds = 6'000'000;
  constexpr uint64_t kDevices = 2'000'000;
  std::vector<uint64_t> fingerprints(kIds);
  std::vector<uint32_t> segments(kIds);
  std::vector<EventTime> times(kIds);
  for (uint64_t i = 0; i < kIds; ++i) {
    fingerprints[i] = Mix64(i + 1);
    segments[i] = static_cast<uint32_t>(aggregate::VirtualShardOf(DeviceId{i % kDevices + 1}));
    times[i] = EventTime{1687780800000 + static_cast<int64_t>(i * kMsPerHour / kIds)};
  }
  constexpr size_t kGroup = 32;
  double other_reads = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto filter = std::make_unique<aggregate::DedupFilter>(
        defaults.dedup_capacity / aggregate::kVirtualShards, defaults.dedup_horizon_ms,
        aggregate::kVirtualShards);
    state.ResumeTiming();
    uint64_t duplicates = 0;
    for (size_t j = 0; j < 2 * kGroup; ++j) filter->Prefetch(fingerprints[j], segments[j]);
    for (size_t g = 0; g < kIds; g += kGroup) {
      for (size_t j = g + 2 * kGroup; j < std::min<size_t>(kIds, g + 3 * kGroup); ++j) {
        filter->Prefetch(fingerprints[j], segments[j]);
      }
      for (size_t j = g + kGroup; j < std::min<size_t>(kIds, g + 2 * kGroup); ++j) {
        filter->PrefetchOther(fingerprints[j], segments[j]);
      }
      for (size_t i = g; i < std::min<size_t>(kIds, g + kGroup); ++i) {
        duplicates += filter->SeenBefore(fingerprints[i], times[i], segments[i]);
      }
    }
    benchmark::DoNotOptimize(duplicates);
    other_reads = static_cast<double>(filter->other_set_reads());
    state.PauseTiming();
    filter.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kIds);
  state.counters["other_set_share"] = other_reads / kIds;
}
BENCHMARK(BM_DedupPeakHour)->Iterations(3)->Unit(benchmark::kMillisecond);

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
