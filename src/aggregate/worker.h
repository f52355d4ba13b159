// A worker owns a shard of devices (by device id) and everything keyed by them: their per-device
// state, the duplicate filter for their alert ids, and its partial of the fleet windows and
// totals. Nothing here is shared with another writer: the hot path takes no lock, performs no
// read-modify-write on shared memory and allocates only when the device table grows.
//
// Time domain: event time for everything; AdvanceIdle converts processing time into stream time
// for an idle stream (stream time = max(largest event time, now - idle_lag)).
// Thread-safety: Apply/ApplyBatch/AdvanceIdle/CountRejected from the owning thread only;
// counters(), fleet() reads and stream_time() from any thread. devices() only while the owner is
// stopped (snapshot, tests) or from the owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "aggregate/dedup_filter.h"
#include "aggregate/device_state.h"
#include "aggregate/fleet.h"
#include "aggregate/rule_inputs.h"
#include "base/flat_u64_map.h"
#include "smetsmon/reject_reason.h"
#include "smetsmon/types.h"

namespace smetsmon::aggregate {

struct EngineConfig {
  size_t workers = 1;
  WindowConfig window;
  int64_t idle_lag_ms = 5 * kMsPerMinute;
  int64_t dedup_horizon_ms = kMsPerHour;
  size_t dedup_capacity = size_t{4} << 20;    // ids remembered, all workers together
  size_t expected_devices = size_t{1} << 20;  // device table presize, all workers together
  // What the rules need from the per-event path (delivery, what-if, noisy devices, outage
  // signals); null = rules off. Owned by the caller, outlives the engine.
  const RuleInputsSetup* rule_inputs = nullptr;
  int64_t noisy_publish_interval_ms = 10 * kMsPerSecond;  // event time between noisy-list copies
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
};

enum class ApplyOutcome : uint8_t { kAccepted, kDuplicate };

class Worker {
 public:
  Worker(const FleetLayout& layout, const EngineConfig& config, size_t shard_count);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ApplyOutcome Apply(const AlertEvent& e);
  // Same as Apply for each event, with memory prefetched ahead (the fast path for batches).
  void ApplyBatch(std::span<const AlertEvent> events);
  void CountRejected(RejectReason r, uint64_t n = 1) {
    counters_.rejected[static_cast<int>(r)].Add(n);
  }
  void AdvanceIdle(ProcessingTime now);

  const WorkerCounters& counters() const { return counters_; }
  const FleetPartial& fleet() const { return fleet_; }
  // Null when the engine runs without rules.
  RuleInputs* rule_inputs() { return rule_inputs_.get(); }
  const RuleInputs* rule_inputs() const { return rule_inputs_.get(); }
  // Owner thread: publishes the noisy-device list if `interval_ms` of stream time passed since the
  // last copy; 0 (end of a replay, tests) publishes now.
  void PublishRuleInputs(int64_t interval_ms = 0);
  EventTime stream_time() const { return {stream_ms_.load(std::memory_order_relaxed)}; }
  // Cumulative alert counts (weighted by throttled_count) per main cell since start.
  uint64_t alerts_total(size_t main_cell) const { return alerts_total_[main_cell].Get(); }

  const FlatU64Map<DeviceState>& devices() const { return devices_; }
  const DedupFilter& dedup() const { return dedup_; }

  // Snapshot support; owner stopped.
  FlatU64Map<DeviceState>& mutable_devices() { return devices_; }
  DedupFilter& mutable_dedup() { return dedup_; }
  FleetPartial& mutable_fleet() { return fleet_; }
  WorkerCounters& mutable_counters() { return counters_; }
  Counter& mutable_alerts_total(size_t cell) { return alerts_total_[cell]; }
  void RestoreStreamTime(EventTime t) { stream_ms_.store(t.ms, std::memory_order_relaxed); }

 private:
  void MoveStreamTime(EventTime t);

  const FleetLayout* layout_;
  const catalog::AlertCatalogue* catalogue_;
  const catalog::AreaTable* areas_;
  int64_t idle_lag_ms_;
  std::atomic<int64_t> stream_ms_;
  FlatU64Map<DeviceState> devices_;
  DedupFilter dedup_;
  FleetPartial fleet_;
  WorkerCounters counters_;
  std::unique_ptr<Counter[]> alerts_total_;
  std::unique_ptr<RuleInputs> rule_inputs_;
  int64_t noisy_publish_interval_ms_;
};

}  // namespace smetsmon::aggregate
