// A worker owns a shard of devices (by device id) and everything keyed by them: their per-device
// state, the duplicate filter for their alert ids, and its partial of the fleet windows and
// totals. Nothing here is shared with another writer: the hot path takes no lock, performs no
// read-modify-write on shared memory and allocates only when the device table grows.
//
// Devices are spread over kVirtualShards virtual shards by a stable hash of their id; a worker owns
// the shards s with s % workers == its index. What has a capacity per shard (the duplicate
// filter) therefore behaves the same whatever the number of workers.
//
// Time domain: event time for everything. The stream time an event is applied at is given by the
// caller (the pipeline's router: one stream time for the whole engine, the largest event time read
// so far in input order), so windows, lateness and dedup expiry do not depend on which worker
// applies what; Apply(e) alone uses the worker's own largest event time (tests, benches).
// Thread-safety: Apply/ApplyBatch/AdvanceTo/CountRejected from the owning thread only;
// counters(), fleet() reads and stream_time() from any thread. devices() only while the owner is
// stopped (snapshot, tests) or from the owner.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "aggregate/dedup_filter.h"
#include "aggregate/device_state.h"
#include "aggregate/fleet.h"
#include "aggregate/rule_inputs.h"
#include "aggregate/virtual_shard.h"
#include "base/flat_u64_map.h"
#include "smetsmon/reject_reason.h"
#include "smetsmon/types.h"

namespace smetsmon::aggregate {

struct EngineConfig {
  size_t workers = 1;  // 1 .. kVirtualShards
  WindowConfig window;
  int64_t idle_lag_ms = 5 * kMsPerMinute;
  int64_t dedup_horizon_ms = kMsPerHour;
  // Ids remembered, all workers together (16 B each: 384 MiB). Sized for a peak hour of 6 M
  // alert ids at the default horizon with no eviction: a load factor under 25 % of the 4-way,
  // two-choice sets (dedup_filter.h, docs/performance.md).
  size_t dedup_capacity = size_t{24} << 20;
  size_t expected_devices = size_t{1} << 20;  // device table presize, all workers together
  // Device table capacity, all workers together (the national fleet is ~30 M meters). Enforced
  // per virtual shard (ceil(max_devices / kVirtualShards) each), so which devices are refused
  // does not depend on the worker count. A new device past it gets no device state; its events
  // still count in the fleet windows and totals (WorkerCounters::devices_refused).
  size_t max_devices = 40'000'000;
  // The largest throttled_count the decoder accepts (decode::DecoderRefs); above it: bad_value.
  uint32_t max_throttled_count = 1'000'000;
  // What the rules need from the per-event path (delivery, what-if, noisy devices, outage
  // signals); null = rules off. Owned by the caller, outlives the engine.
  const RuleInputsSetup* rule_inputs = nullptr;
};

// Single-writer counters: the owner stores, anyone loads.
class Counter {
 public:
  void Add(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }
  void Set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct WorkerCounters {
  Counter accepted;    // valid, non-duplicate messages
  Counter duplicates;  // messages whose alert id was seen within the horizon
  Counter rejected[kRejectReasonCount];
  Counter new_devices;
  Counter devices_refused;  // events of new devices whose virtual shard's table was full
};

enum class ApplyOutcome : uint8_t { kAccepted, kDuplicate };

class Worker {
 public:
  Worker(const FleetLayout& layout, const EngineConfig& config, size_t index, size_t workers);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Applies `e` with the stream time moved to `stream` (at least e.event_time for Apply(e)).
  ApplyOutcome Apply(const AlertEvent& e, EventTime stream);
  ApplyOutcome Apply(const AlertEvent& e) { return Apply(e, e.event_time); }
  // Same as Apply for each event, with memory prefetched ahead (the fast path for batches).
  // `stream_ms[i]` is the stream time of events[i]; empty: each event's own time.
  void ApplyBatch(std::span<const AlertEvent> events, std::span<const int64_t> stream_ms = {});
  // Moves the stream time to `t` if later (windows age out; nothing is added).
  void AdvanceTo(EventTime t) { MoveStreamTime(t); }
  void CountRejected(RejectReason r, uint64_t n = 1) {
    counters_.rejected[static_cast<int>(r)].Add(n);
  }

  const WorkerCounters& counters() const { return counters_; }
  const FleetPartial& fleet() const { return fleet_; }
  // Null when the engine runs without rules.
  RuleInputs* rule_inputs() { return rule_inputs_.get(); }
  const RuleInputs* rule_inputs() const { return rule_inputs_.get(); }
  // Owner thread (or owner stopped): publishes the noisy-device list at the stream time (taken
  // with the rules' readings at each barrier).
  void PublishRuleInputs();
  // The dedup segment of a device's virtual shard in this worker.
  size_t DedupSegmentOf(DeviceId id) const { return VirtualShardOf(id) / worker_count_; }
  EventTime stream_time() const { return {stream_ms_.load(std::memory_order_relaxed)}; }
  // Cumulative alert counts (weighted by throttled_count) per main cell since start.
  uint64_t alerts_total(size_t main_cell) const { return alerts_total_[main_cell].Get(); }

  const FlatU64Map<DeviceState>& devices() const { return devices_; }
  const DedupFilter& dedup() const { return dedup_; }

  // Snapshot support; owner stopped.
  // (The per-shard device counts behind max_devices are recounted before the next new device.)
  FlatU64Map<DeviceState>& mutable_devices() {
    shard_devices_stale_ = true;
    return devices_;
  }
  // Devices a virtual shard may hold (EngineConfig::max_devices / kVirtualShards, rounded up).
  size_t shard_device_cap() const { return shard_device_cap_; }
  DedupFilter& mutable_dedup() { return dedup_; }
  FleetPartial& mutable_fleet() { return fleet_; }
  WorkerCounters& mutable_counters() { return counters_; }
  Counter& mutable_alerts_total(size_t cell) { return alerts_total_[cell]; }
  void RestoreStreamTime(EventTime t) { stream_ms_.store(t.ms, std::memory_order_relaxed); }

 private:
  void MoveStreamTime(EventTime t);
  // The state of a device seen for the first time: a new table entry, or, when its virtual shard
  // is full, the scratch state (zeroed, kept by no one) with the refusal counted.
  DeviceState& NewDeviceState(DeviceId id);
  void RecountShardDevices();

  const FleetLayout* layout_;
  const catalog::AlertCatalogue* catalogue_;
  const catalog::AreaTable* areas_;
  size_t worker_count_;
  std::atomic<int64_t> stream_ms_;
  FlatU64Map<DeviceState> devices_;
  size_t shard_device_cap_;
  std::array<size_t, kVirtualShards> shard_devices_{};  // entries per virtual shard (owned ones)
  bool shard_devices_stale_ = false;
  DeviceState refused_scratch_{};
  DedupFilter dedup_;
  FleetPartial fleet_;
  WorkerCounters counters_;
  std::unique_ptr<Counter[]> alerts_total_;
  std::unique_ptr<RuleInputs> rule_inputs_;
};

}  // namespace smetsmon::aggregate
