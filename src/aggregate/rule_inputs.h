// What the rules need from the per-event path, kept by each worker next to its fleet windows:
// delivery latency per priority class x comms region (sliding 1 h, 24 h and per hour for the
// calendar month, plus cumulative counts since start for the Prometheus latency histogram),
// voltage what-if counts per rule x area/DMC x candidate level (1 h, 24 h), the
// worker's noisy devices (more than the per-device daily threshold, with their alerts by code over
// the same 24 h), and outage/restoration signals for the evaluator, which matches them by premises.
// Their capacities are fleet-wide quotas per virtual shard (aggregate/virtual_shard.h): which
// devices are listed or tallied, and which signals are kept, does not depend on the worker count.
//
// RuleInputsSetup is immutable and shared by the workers. RuleInputs is one worker's part.
// Time domain: event time. Thread-safety: Add/AdvanceTo/Publish and the window sums (Sum*) from
// the owning worker thread only (the pipeline takes the rules' readings there, at a barrier); the
// signal ring is drained by its owner too (DrainSignals, at the readings: it restarts the signal
// quotas), and
// the noisy list is copied under a mutex when published, never per event.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "aggregate/device_state.h"
#include "aggregate/migration_inputs.h"
#include "aggregate/virtual_shard.h"
#include "base/binary_file.h"
#include "base/flat_u64_map.h"
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
  // The SEC's Communication Service Providers (rules.yaml `csps`), for the delivery views and the
  // latency histogram: the CSP of each region slot (index into csp_names, -1: none, i.e. an
  // unknown region or one no CSP serves). Read at evaluation and export only, never per event.
  std::vector<std::string> csp_names;
  std::vector<int8_t> csp_of_region_slot;  // size = region_slots

  // What-if: rule index per (code slot, generation) cell, -1 for none.
  std::vector<VoltageRule> voltage_rules;
  std::vector<int8_t> voltage_rule_of_cell;  // index = code_slot * 2 + (smets1 ? 0 : 1)
  size_t area_slots = 1;
  size_t dmc_limit = 1;
  size_t max_candidates = 0;  // the longest candidate list

  // Noisy devices: more than noisy_threshold_24h alerts in 24 h; at most noisy_capacity listed,
  // all workers together. Their codes are counted from the moment a device's 24 h count reaches
  // noisy_track_codes_from (at most noisy_track_capacity devices below the threshold so tracked).
  // Both are enforced per virtual shard (PerShardQuota).
  uint32_t noisy_threshold_24h = 100;
  size_t noisy_capacity = 100'000;
  uint32_t noisy_track_codes_from = 3;
  size_t noisy_track_capacity = 400'000;

  // Outage signals kept between two readings (the evaluator drains them each stream minute), all
  // workers together, enforced per virtual shard; signals beyond it are dropped and counted.
  size_t signal_capacity = 1 << 16;

  // Migration load: SMETS1 alerts per DMC x cohort x recent/established installation, 24 h.
  MigrationLayout migration;

  int64_t allowed_lateness_ms = 5 * kMsPerMinute;
  int64_t month_hours = 32 * 24;  // hour buckets kept: covers the longest calendar month

  size_t latency_buckets() const { return latency_bounds_ms.size() + 1; }  // + overflow
  // Delivery cell layout: [class][region][latency bucket..., within target, total].
  size_t delivery_stride() const { return latency_buckets() + 2; }
  size_t delivery_cells() const { return class_names.size() * region_slots * delivery_stride(); }
  size_t DeliveryCell(size_t cls, size_t region) const {
    return (cls * region_slots + region) * delivery_stride();
  }
  // Cumulative latency counts since start (never a window): [class][region][latency bucket...,
  // latency sum in ms].
  size_t latency_total_stride() const { return latency_buckets() + 1; }
  size_t latency_total_cells() const {
    return class_names.size() * region_slots * latency_total_stride();
  }
  size_t LatencyTotalCell(size_t cls, size_t region) const {
    return (cls * region_slots + region) * latency_total_stride();
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

// A device's newest two alerts before the one being applied (from its state, read before the
// update): what the code tally of a device starts from.
struct LastAlerts {
  std::array<uint32_t, 2> time_s{};  // [0] newest; 0 = none
  std::array<uint32_t, 2> code{};    // AlertCode values
  static LastAlerts Of(const DeviceState& d) { return {d.last_time_s, d.last_code}; }
};

// A device over the daily threshold (more than noisy_threshold_24h alerts in 24 h), as its
// owning worker last saw it. Its alerts by code are over the same 24 hourly buckets as
// alerts_24h: code_count[...] + other_count + untracked == alerts_24h, exactly.
struct NoisyDevice {
  static constexpr int kTopCodes = 3;
  uint64_t device = 0;
  AreaId area = kUnknownArea;
  Generation generation = Generation::kUnknown;
  uint16_t dmc = 0;
  uint32_t alerts_24h = 0;  // at last_ms
  int64_t last_ms = 0;
  uint32_t code[kTopCodes] = {};  // AlertCode values, most frequent first (then by code)
  uint32_t code_count[kTopCodes] = {};
  uint32_t other_count = 0;  // alerts of known codes beyond the first kTopCodes
  // Alerts whose code is not known: raised before the device's codes were counted (its count
  // jumped past the mark with throttled alerts, the tracking table was full, or a checkpoint
  // from before exact counting). Never guessed into a code.
  uint32_t untracked = 0;
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
    migration_.AdvanceTo(stream_time);
  }
  // Takes a new priority class per code slot (a reload changed a code's priority): alerts from
  // here on count in their new class; what is already in the windows stays where it was.
  // The table must have the setup's size and name only its classes (else a crash: a broken
  // invariant). Owner thread, between batches.
  void SetClassOfSlot(std::shared_ptr<const std::vector<uint8_t>> table);
  const std::vector<uint8_t>& class_of_slot() const { return *class_of_slot_; }
  // One accepted alert (weight n). `device` is its state after the update, `before` its last
  // two alerts before it.
  void Add(const AlertEvent& e, size_t code_slot, size_t area_slot, bool outage_start,
           bool outage_restored, bool restored_long, const DeviceState& device,
           const LastAlerts& before, uint32_t n);
  // Copies the noisy devices for readers with their counts at `stream_time`, first dropping
  // devices no longer over the threshold (and, once per stream hour, those whose codes no longer
  // need counting); `find` gives the owner's current state of a device.
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
  // Adds to `out` (size latency_total_cells()) the cumulative delivery latency counts and sums:
  // every alert with a dcc_time applied since start (or restored with the checkpoint), late for
  // the windows or not. Each cell only grows, so a reader summing the workers never sees a
  // counter go down (the buckets and the sum may be one event apart).
  void SumLatencyTotals(std::span<uint64_t> out) const;
  // Owner thread: pops every pending signal, oldest first, and restarts the per-shard quotas.
  void DrainSignals(const std::function<void(const OutageSignalRecord&)>& fn);
  uint64_t signals_dropped() const { return signals_dropped_.load(std::memory_order_relaxed); }
  uint64_t noisy_dropped() const { return noisy_dropped_.load(std::memory_order_relaxed); }

  const RuleInputsSetup& setup() const { return *setup_; }
  // The migration-load window (owner thread: SumOwned at the readings).
  const MigrationInputs& migration() const { return migration_; }

  // Owner thread: fetch the code tally the next alert of `device` may update, in two stages as
  // the worker does for the device's state (most alerts of a flood come from devices past the
  // mark, and the table is larger than the caches): PrefetchKey two groups of events ahead,
  // PrefetchTally a group later (the key's line cached by then: the tally, if it has one).
  void PrefetchKey(uint64_t device) const {
    if (tracked_.size() != 0) tracked_.Prefetch(device);
  }
  void PrefetchTally(uint64_t device) const {
    if (tracked_.size() != 0) tracked_.PrefetchValue(device, /*max_probe=*/8);
  }
  // Owner thread: a device's alerts by code over the 24 h ending with the hour of `now`, as a
  // noisy device is listed (whatever its count); nullopt when its codes are not being counted.
  std::optional<NoisyDevice> CodesOf(uint64_t device, const DeviceState& state,
                                     EventTime now) const;
  // Devices whose codes are being counted, noisy or not (owner thread); alerts of devices past the
  // mark whose codes were not counted because the table was full (any thread).
  size_t tracked_devices() const { return tracked_.size(); }
  uint64_t codes_untracked() const { return codes_untracked_.load(std::memory_order_relaxed); }

  // Snapshot support (owner stopped). SaveState writes this worker's part of a checkpoint: the
  // windows (MutableRings, in order), the code-counting table, the pending outage signals, the
  // delivery latency totals (keyed by what their cells mean: restored only under the same
  // classes, latency buckets and regions, else they start at zero). Add
  // new fields at its end: the engine length-prefixes the part, and LoadState leaves a field
  // the part does not reach at its initial value. LoadState reads a part written by SaveState
  // (version 6 on) or the version 3-5 layout (the v5 windows, the old noisy table, v5 signals);
  // DataLoss when malformed (the reader is then failed), never a crash.
  std::vector<window::BucketRing*> MutableRings();
  void SaveState(BinaryWriter& w) const;
  absl::Status LoadState(BinaryReader& r, uint32_t version);
  // Reads past a part of version 3-5 (an engine without rules restoring it).
  static absl::Status SkipLegacyState(BinaryReader& r, uint32_t version);
  // The cumulative latency cells (latency_total_cells()), and their restore: false (and left as
  // they were) when the size differs, i.e. they were taken under other priority classes, latency
  // buckets or regions.
  std::vector<uint64_t> ExportLatencyTotals() const;
  bool ImportLatencyTotals(std::span<const uint64_t> cells);
  // The signals not yet drained, oldest first, left in place; and their restore (pushed after
  // any pending ones), with the cumulative dropped count.
  std::vector<OutageSignalRecord> PendingSignals() const;
  void RestoreSignals(const std::vector<OutageSignalRecord>& signals, uint64_t dropped);
  // Restoring a checkpoint taken with another number of workers (owners stopped): adds `from`, a
  // part restored on its own, to this one: its windows summed into these, its counters and
  // pending signals added here, and each device it counts codes of handed to its owner now
  // (`owner_of`, under that owner's shard quotas). The hourly sweep's hour: swept_hour() and
  // RestoreSweptHour, so that every worker sweeps next when the uninterrupted run would.
  void Absorb(RuleInputs& from, const std::function<RuleInputs&(uint64_t device)>& owner_of);
  int64_t swept_hour() const { return swept_hour_; }
  void RestoreSweptHour(int64_t hour) { swept_hour_ = hour; }

 private:
  void PushSignal(const OutageSignalRecord& s);
  // A device whose alerts are counted by code: up to kCodes codes by name, the rest summed as
  // "other", each per hour on a ring aligned with the device state's (index hour % 24,
  // saturating like it). What the device state counts and this does not is the device's
  // untracked alerts. 160 bytes: what every alert reads first, then the counts hour by hour (an
  // alert touches its hour's five counts, one cache line).
  struct Tracked {
    static constexpr int kCodes = 4;
    uint32_t code[kCodes];  // AlertCode values; a code whose counts are all 0 is free
    int64_t last_ms;        // newest alert
    int32_t newest_hour;    // the ring's newest hour (ms / kMsPerHour)
    uint16_t dmc;
    AreaId area;
    Generation generation;
    uint8_t noisy;                  // counted as noisy (in noisy_ids_)
    uint8_t count[24][kCodes + 1];  // [hour % 24][code slot, or kCodes = other]
    uint8_t pad[7];
  };
  static_assert(sizeof(Tracked) == 160 && std::is_trivially_copyable_v<Tracked>);
  void TrackCodes(const AlertEvent& e, const DeviceState& device, const LastAlerts& before,
                  uint32_t alerts_24h, uint32_t n);
  bool Admit(size_t shard, uint32_t alerts_24h);
  void Seed(Tracked& t, const AlertEvent& e, const DeviceState& device, const LastAlerts& before,
            uint32_t alerts_24h, uint32_t added) const;
  NoisyDevice Breakdown(uint64_t id, const Tracked& t, const DeviceState& state,
                        EventTime now) const;
  void SetNoisy(uint64_t id, Tracked& t, bool noisy);
  // The version 3-5 part: applied to `into`, or only read past when null.
  static absl::Status ReadLegacy(BinaryReader& r, uint32_t version, RuleInputs* into);
  // Tracks a device restored from a checkpoint if its shard's quotas allow (noisy first come
  // first); left out otherwise, or when it is tracked already.
  void RestoreTracked(uint64_t id, Tracked t);
  void EraseTracked(uint64_t id);

  const RuleInputsSetup* setup_;
  // Owner-only: the setup's class table, or a reloaded one (never null).
  std::shared_ptr<const std::vector<uint8_t>> class_of_slot_;
  window::BucketRing delivery_minutes_;
  window::BucketRing delivery_hours_;  // month_hours buckets: 24 h and the calendar month
  // Cumulative latency counts (latency_total_cells()): single writer (plain load + store), read
  // by the metrics scrape. Sized once: no allocation on the per-event path.
  std::unique_ptr<std::atomic<uint64_t>[]> latency_totals_;
  std::unique_ptr<window::BucketRing> whatif_minutes_;  // null when no voltage rules
  std::unique_ptr<window::BucketRing> whatif_hours_;

  // Signal ring: single producer (owner), single consumer (reader).
  std::unique_ptr<OutageSignalRecord[]> signals_;
  size_t signal_mask_;
  std::atomic<uint64_t> signal_head_{0};
  std::atomic<uint64_t> signal_tail_{0};
  std::atomic<uint64_t> signals_dropped_{0};
  std::array<uint32_t, kVirtualShards> shard_signals_{};  // pushed since the last drain

  // Noisy devices: the devices whose codes are counted (owner only), noisy_ids_ those of them
  // over the threshold, left (at Publish, once per stream hour: a count only falls when an hour
  // leaves the window) when below the mark; the published copy under a mutex.
  FlatU64Map<Tracked> tracked_;
  absl::flat_hash_set<uint64_t> noisy_ids_;
  // Per virtual shard: devices tracked (noisy or not) and those of them noisy, against the quotas.
  std::array<uint32_t, kVirtualShards> shard_tracked_{};
  std::array<uint32_t, kVirtualShards> shard_noisy_{};
  size_t noisy_quota_;  // PerShardQuota(noisy_capacity)
  size_t track_quota_;  // PerShardQuota(noisy_track_capacity)
  size_t signal_quota_;
  int64_t swept_hour_ = 0;
  std::atomic<uint64_t> noisy_dropped_{0};
  std::atomic<uint64_t> codes_untracked_{0};
  mutable std::mutex published_mu_;
  std::vector<NoisyDevice> published_;

  MigrationInputs migration_;  // its ring is the last of MutableRings()
};

// Sum of a device's hourly counts: its alerts in the 24 h ending at its newest alert.
inline uint32_t AlertsInRing(const DeviceState& d) {
  uint32_t s = 0;
  for (uint8_t c : d.hour_counts) s += c;
  return s;
}

}  // namespace smetsmon::aggregate
