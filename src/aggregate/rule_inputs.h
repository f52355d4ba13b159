// What the rules need from the per-event path, kept by each worker next to its fleet windows:
// delivery latency per priority class x comms region (sliding 1 h, 24 h and per hour for the
// calendar month), voltage what-if counts per rule x area/DMC x candidate level (1 h, 24 h), the
// worker's noisy devices (over the per-device daily threshold), and outage/restoration signals
// for the evaluator, which matches them by premises.
//
// RuleInputsSetup is immutable and shared by the workers. RuleInputs is one worker's part.
// Time domain: event time. Thread-safety: Add/AdvanceTo/Publish and the window sums (Sum*) from
// the owning worker thread only (the pipeline takes the rules' readings there, at a barrier); the
// signal ring is single-producer single-consumer (DrainSignals from one thread at a time), and
// the noisy list is copied under a mutex when published, never per event.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "aggregate/device_state.h"
#include "smetsmon/types.h"
#include "window/bucket_ring.h"

namespace smetsmon::aggregate {

// A voltage acceptance level that alerts of one code (and generation) were raised against, and
// the candidate levels to test. An over-voltage alert fires at or above the level, so it stops
// when the level is raised above its voltage; an under-voltage alert, when lowered below it.
struct VoltageRule {
  std::string name;        // e.g. "SMETS1 8F40"
  bool over = true;        // direction of the threshold
  int32_t current_dv = 0;  // today's level, decivolts
  std::vector<int32_t> candidates_dv;
};

struct RuleInputsSetup {
  // Delivery: priority class of each code slot, the classes' target times, latency histogram.
  std::vector<uint8_t> class_of_slot;  // size = code slots
  std::vector<std::string> class_names;
  std::vector<int64_t> class_target_ms;
  std::vector<int64_t> latency_bounds_ms;    // histogram upper bounds (inclusive), ascending
  size_t region_slots = 1;                   // comms regions + 1 for unknown
  std::vector<uint8_t> region_of_area_slot;  // area slot -> region slot

  // What-if: rule index per (code slot, generation) cell, -1 for none.
  std::vector<VoltageRule> voltage_rules;
  std::vector<int8_t> voltage_rule_of_cell;  // index = code_slot * 2 + (smets1 ? 0 : 1)
  size_t area_slots = 1;
  size_t dmc_limit = 1;
  size_t max_candidates = 0;  // the longest candidate list

  // Noisy devices: over this many alerts in 24 h; at most this many tracked per worker.
  uint32_t noisy_threshold_24h = 100;
  size_t noisy_capacity_per_worker = 50'000;

  // Outage signal ring per worker (power of two); signals beyond it are dropped and counted.
  size_t signal_capacity = 1 << 16;

  int64_t allowed_lateness_ms = 5 * kMsPerMinute;
  int64_t month_hours = 32 * 24;  // hour buckets kept: covers the longest calendar month

  size_t latency_buckets() const { return latency_bounds_ms.size() + 1; }  // + overflow
  // Delivery cell layout: [class][region][latency bucket..., within target, total].
  size_t delivery_stride() const { return latency_buckets() + 2; }
  size_t delivery_cells() const { return class_names.size() * region_slots * delivery_stride(); }
  size_t DeliveryCell(size_t cls, size_t region) const {
    return (cls * region_slots + region) * delivery_stride();
  }
  // What-if cell layout: [rule][area slots then DMC ids][candidate..., total].
  size_t whatif_stride() const { return max_candidates + 1; }
  size_t whatif_rows() const { return area_slots + dmc_limit; }
  size_t whatif_cells() const { return voltage_rules.size() * whatif_rows() * whatif_stride(); }
  size_t WhatIfAreaRow(size_t rule, size_t area_slot) const {
    return (rule * whatif_rows() + area_slot) * whatif_stride();
  }
  size_t WhatIfDmcRow(size_t rule, uint16_t dmc) const {
    return (rule * whatif_rows() + area_slots + dmc) * whatif_stride();
  }
};

// An outage start or restoration seen by a worker, for premises-level matching by the evaluator.
struct OutageSignalRecord {
  enum class Kind : uint8_t { kStart, kRestored, kRestoredLong };
  uint64_t premises = 0;  // MPAN when the event carried one (or the inventory knew it), else device
  uint64_t device = 0;
  int64_t time_ms = 0;
  AreaId area = kUnknownArea;
  Kind kind = Kind::kStart;
};

// A device over the daily threshold, as its owning worker last saw it.
struct NoisyDevice {
  static constexpr int kTopCodes = 3;
  uint64_t device = 0;
  AreaId area = kUnknownArea;
  Generation generation = Generation::kUnknown;
  uint16_t dmc = 0;
  uint32_t alerts_24h = 0;  // at last_ms
  int64_t last_ms = 0;
  uint32_t code[kTopCodes] = {};  // AlertCode values, most frequent first (approximate)
  uint32_t code_count[kTopCodes] = {};
};

enum class WindowSpan : uint8_t { k1h, k24h };

class RuleInputs {
 public:
  RuleInputs(const RuleInputsSetup& setup);
  RuleInputs(const RuleInputs&) = delete;
  RuleInputs& operator=(const RuleInputs&) = delete;

  // --- owner thread ---
  void AdvanceTo(EventTime stream_time) {
    delivery_minutes_.AdvanceTo(stream_time);
    delivery_hours_.AdvanceTo(stream_time);
    if (whatif_minutes_) {
      whatif_minutes_->AdvanceTo(stream_time);
      whatif_hours_->AdvanceTo(stream_time);
    }
  }
  // Takes a new priority class per code slot (a reload changed a code's priority): alerts from
  // here on count in their new class; what is already in the windows stays where it was.
  // The table must have the setup's size and name only its classes (else a crash: a broken
  // invariant). Owner thread, between batches.
  void SetClassOfSlot(std::shared_ptr<const std::vector<uint8_t>> table);
  const std::vector<uint8_t>& class_of_slot() const { return *class_of_slot_; }
  // One accepted alert (weight n). `device` is its state after the update.
  void Add(const AlertEvent& e, size_t code_slot, size_t area_slot, bool outage_start,
           bool outage_restored, bool restored_long, const DeviceState& device, uint32_t n);
  // Copies the noisy-device table for readers, first dropping devices no longer over the
  // threshold at `stream_time` (`find` gives the owner's current state of a device).
  void Publish(EventTime stream_time, const std::function<const DeviceState*(uint64_t)>& find);

  // Sums into `out` (size delivery_cells()).
  void SumDelivery(WindowSpan span, EventTime now, std::span<uint64_t> out) const;
  // Sums the hour buckets from `from` (inclusive, hour-aligned) to the hour holding `now`.
  void SumDeliveryHours(EventTime from, EventTime now, std::span<uint64_t> out) const;
  // DMC ids in use are below `live_dmcs`: their rows are the only ones summed.
  void SumWhatIf(WindowSpan span, EventTime now, std::span<uint64_t> out,
                 size_t live_dmcs = SIZE_MAX) const;

  // --- any thread ---
  std::vector<NoisyDevice> PublishedNoisy() const;
  // Pops every pending signal, oldest first.
  void DrainSignals(const std::function<void(const OutageSignalRecord&)>& fn);
  uint64_t signals_dropped() const { return signals_dropped_.load(std::memory_order_relaxed); }
  uint64_t noisy_dropped() const { return noisy_dropped_.load(std::memory_order_relaxed); }

  const RuleInputsSetup& setup() const { return *setup_; }

  // Snapshot support (owner stopped): the windows, then the noisy-device table.
  std::vector<window::BucketRing*> MutableRings();
  std::vector<NoisyDevice> ExportNoisy() const;
  void ImportNoisy(const std::vector<NoisyDevice>& devices);
  // The signals not yet drained, oldest first, left in place; and their restore (pushed after
  // any pending ones), with the cumulative dropped count.
  std::vector<OutageSignalRecord> PendingSignals() const;
  void RestoreSignals(const std::vector<OutageSignalRecord>& signals, uint64_t dropped);

 private:
  void PushSignal(const OutageSignalRecord& s);
  void TrackNoisy(const AlertEvent& e, uint32_t alerts_24h);

  const RuleInputsSetup* setup_;
  // Owner-only: the setup's class table, or a reloaded one (never null).
  std::shared_ptr<const std::vector<uint8_t>> class_of_slot_;
  window::BucketRing delivery_minutes_;
  window::BucketRing delivery_hours_;  // month_hours buckets: 24 h and the calendar month
  std::unique_ptr<window::BucketRing> whatif_minutes_;  // null when no voltage rules
  std::unique_ptr<window::BucketRing> whatif_hours_;

  // Signal ring: single producer (owner), single consumer (reader).
  std::unique_ptr<OutageSignalRecord[]> signals_;
  size_t signal_mask_;
  std::atomic<uint64_t> signal_head_{0};
  std::atomic<uint64_t> signal_tail_{0};
  std::atomic<uint64_t> signals_dropped_{0};

  // Noisy devices: owner-only table, published copy under a mutex.
  absl::flat_hash_map<uint64_t, NoisyDevice> noisy_;
  std::atomic<uint64_t> noisy_dropped_{0};
  mutable std::mutex published_mu_;
  std::vector<NoisyDevice> published_;
};

// Sum of a device's hourly counts: its alerts in the 24 h ending at its newest alert.
inline uint32_t AlertsInRing(const DeviceState& d) {
  uint32_t s = 0;
  for (uint8_t c : d.hour_counts) s += c;
  return s;
}

}  // namespace smetsmon::aggregate
