// The engine: the fleet layout and the workers, with the read side that merges their partials
// (windows, totals, counters) on demand, device lookup by owner, and snapshot save/restore.
//
// Thread-safety: worker(i) is driven by its owning thread. Read methods (View, Totals, counters,
// StreamTime) may run on any thread concurrently with the workers. FindDevice, SaveState and
// LoadState require the workers to be stopped (or to be called from the single thread that
// drives them all, as replay does).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "aggregate/fleet.h"
#include "aggregate/worker.h"
#include "base/binary_file.h"
#include "catalog/reference_data.h"

namespace smetsmon::aggregate {

struct CounterTotals {
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t rejected[kRejectReasonCount] = {};
  uint64_t late_1h = 0;
  uint64_t late_24h = 0;
  uint64_t devices = 0;
  uint64_t devices_refused = 0;  // events of new devices refused a state (max_devices)
  uint64_t dedup_evictions = 0;
  uint64_t cell_saturations = 0;  // window cell adds clipped at 2^32 - 1 (whole process)
  uint64_t rejected_total() const {
    uint64_t s = 0;
    for (uint64_t r : rejected) s += r;
    return s;
  }
};

// What one rules evaluation reads from the engine, as of one point of the stream: taken by each
// worker for its part when it reaches a rules barrier (so the workers go on while the rules run),
// then merged.
struct Readings {
  EventTime at = EventTime::Min();
  EventTime month_start = EventTime::Min();  // start of the local calendar month holding `at`
  std::vector<uint64_t> views[std::size(kAllViews)];  // by View, FleetLayout cells
  std::vector<uint64_t> delivery_1h, delivery_24h, delivery_month;
  std::vector<uint64_t> whatif_1h, whatif_24h;
  std::vector<uint64_t> migration_24h;  // MigrationLayout cells
  std::vector<NoisyDevice> noisy;       // noisiest first (after Finish)
  // Cumulative: alerts of devices over the threshold not listed (the list was full), and of
  // devices over the code-counting mark whose codes were not counted (that table was full).
  uint64_t noisy_dropped = 0, noisy_codes_untracked = 0;
  // Outage signals since the previous readings, by time, premises, device, kind (after Finish).
  std::vector<OutageSignalRecord> signals;
  uint64_t signals_dropped = 0;  // cumulative

  const std::vector<uint64_t>& view(View v) const { return views[static_cast<int>(v)]; }
};

class Engine {
 public:
  Engine(const catalog::ReferenceData& ref, const EngineConfig& config);

  size_t worker_count() const { return workers_.size(); }
  Worker& worker(size_t i) { return *workers_[i]; }
  const Worker& worker(size_t i) const { return *workers_[i]; }
  // The worker that owns a device: the owner of its virtual shard.
  size_t WorkerIndexFor(DeviceId id) const { return VirtualShardOf(id) % workers_.size(); }
  Worker& WorkerFor(DeviceId id) { return *workers_[WorkerIndexFor(id)]; }

  const FleetLayout& layout() const { return layout_; }
  const catalog::ReferenceData& ref() const { return *ref_; }
  const EngineConfig& config() const { return config_; }

  // Largest stream time over the workers.
  EventTime StreamTime() const;
  // Window cells (FleetLayout indexing) summed over workers for the view ending at `now`.
  std::vector<uint64_t> View(View v, EventTime now) const;
  // Cumulative alert counts per main cell summed over workers.
  std::vector<uint64_t> Totals() const;
  CounterTotals Counters() const;

  // What the rules need from the per-event path (null when the engine runs without rules); the
  // rules read it through Readings.
  const RuleInputsSetup* rule_inputs_setup() const { return config_.rule_inputs; }

  // Worker i's part of the readings at `at` (its owning thread, or owner-stopped): the views in
  // `views` (a bit per View; the others stay empty), the rule inputs' sums, its published noisy
  // devices (published now) and the outage signals it produced since the last call (drained).
  Readings WorkerReadings(size_t i, EventTime at, EventTime month_start,
                          uint32_t views = kAllViewsMask);
  static constexpr uint32_t kAllViewsMask = 0xF;
  static constexpr uint32_t ViewBit(aggregate::View v) { return 1u << static_cast<int>(v); }
  // Adds `part` into `into` (the first part may be moved in whole).
  static void MergeReadings(Readings& into, Readings&& part);
  // Orders what the merge left in worker order: noisy devices noisiest first, signals by time,
  // premises, device and kind, so the readings do not depend on the number of workers.
  static void FinishReadings(Readings& r);
  // Every worker's part, merged and finished: from the one thread that drives the workers, or
  // with them stopped (tests, the end of a replay).
  Readings Read(EventTime at, EventTime month_start, uint32_t views = kAllViewsMask);

  // Owner-stopped only.
  const DeviceState* FindDevice(DeviceId id) const;

  // The engine's part of a checkpoint (pipeline/checkpoint.h frames it in a file): devices,
  // dedup, windows, totals, counters, rule inputs, pending outage signals, symbol names.
  // Owner-stopped (or every worker paused). Load restores a state of `version` (the file's);
  // it fails with a clear message if the state was taken under a different layout (config) or
  // worker count (FailedPrecondition), or is malformed (DataLoss), leaving the engine and the
  // symbol tables partly restored: the caller starts afresh then.
  //   2: rule inputs (delivery, what-if, noisy); 3: the catalogue's slots and categories, so a
  //   state taken under another catalogue is remapped by code and category name on load; 4: the
  //   duplicate filter in segments per virtual shard (a version-3 state loads without its dedup
  //   entries: only redeliveries within one horizon of the restart could then count twice);
  //   5: the outage signals not yet read by the rules; the duplicate filter's entries and the
  //   devices in one length-prefixed section per virtual shard (after the per-worker parts), so
  //   a shard's state is read, written or moved on its own, to any number of workers; 6: each
  //   worker's rule inputs in one length-prefixed part (RuleInputs::SaveState), with the noisy
  //   devices' exact code tallies in place of the old noisy table (converted on load).
  static constexpr uint32_t kStateVersion = 6;
  static constexpr uint32_t kOldestStateVersion = 3;
  void SaveState(BinaryWriter& w) const;
  absl::Status LoadState(BinaryReader& r, uint32_t version, const std::string& path);
  // The per-shard sections of version 5: u32 count (64), then per shard: u64 length, u32 shard,
  // its dedup segment's ways in use (way index within the segment, fingerprint, expiry), u64
  // device count, (key, DeviceState) records.
  void WriteShards(BinaryWriter& w) const;
  absl::Status ReadShards(BinaryReader& r, const std::string& path);

 private:
  const catalog::ReferenceData* ref_;
  EngineConfig config_;
  FleetLayout layout_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace smetsmon::aggregate
