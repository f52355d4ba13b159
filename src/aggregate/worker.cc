#include "aggregate/worker.h"

namespace smetsmon::aggregate {

Worker::Worker(const FleetLayout& layout, const EngineConfig& config, size_t index, size_t workers)
    : layout_(&layout),
      catalogue_(&layout.catalogue()),
      areas_(&layout.areas()),
      worker_count_(workers),
      stream_ms_(EventTime::Min().ms),
      devices_(std::min(config.expected_devices, config.max_devices) / workers),
      shard_device_cap_((config.max_devices + kVirtualShards - 1) / kVirtualShards),
      dedup_(config.dedup_capacity / kVirtualShards, config.dedup_horizon_ms,
             ShardsOwnedBy(index, workers)),
      fleet_(layout, config.window),
      alerts_total_(new Counter[layout.main_cells()]),
      rule_inputs_(config.rule_inputs != nullptr ? std::make_unique<RuleInputs>(*config.rule_inputs)
                                                 : nullptr) {}

void Worker::PublishRuleInputs() {
  if (!rule_inputs_) return;
  rule_inputs_->Publish(stream_time(),
                        [this](uint64_t id) -> const DeviceState* { return devices_.Find(id); });
}

DeviceState& Worker::NewDeviceState(DeviceId id) {
  if (shard_devices_stale_) RecountShardDevices();
  size_t& in_shard = shard_devices_[VirtualShardOf(id)];
  if (in_shard >= shard_device_cap_) {
    // Past the capacity the event still counts everywhere but in per-device state: the table,
    // and so the process, never grows beyond what max_devices was sized for.
    counters_.devices_refused.Add(1);
    refused_scratch_ = DeviceState{};
    return refused_scratch_;
  }
  ++in_shard;
  counters_.new_devices.Add(1);
  bool inserted = false;
  return devices_.FindOrInsert(id.value, &inserted);
}

void Worker::RecountShardDevices() {
  shard_devices_.fill(0);
  devices_.ForEach([this](uint64_t key, const DeviceState&) {
    ++shard_devices_[VirtualShardOf(DeviceId{key})];
  });
  shard_devices_stale_ = false;
}

void Worker::MoveStreamTime(EventTime t) {
  if (t.ms > stream_ms_.load(std::memory_order_relaxed)) {
    stream_ms_.store(t.ms, std::memory_order_relaxed);
    fleet_.AdvanceTo(t);
    if (rule_inputs_) rule_inputs_->AdvanceTo(t);
  }
}

ApplyOutcome Worker::Apply(const AlertEvent& e, EventTime stream) {
  MoveStreamTime(std::max(stream, e.event_time));
  if (dedup_.SeenBefore(e.alert_fingerprint, stream_time(), DedupSegmentOf(e.device))) {
    counters_.duplicates.Add(1);
    return ApplyOutcome::kDuplicate;
  }
  const catalog::CodeSlot code_slot = catalogue_->SlotOf(e.code);
  const size_t area_slot = areas_->Slot(e.area);
  DeviceState* found = devices_.Find(e.device.value);
  const bool inserted = found == nullptr;
  DeviceState& device = inserted ? NewDeviceState(e.device) : *found;
  // The noisy-device rule starts a device's code tally from its last two alerts before this one.
  LastAlerts before;
  if (rule_inputs_ && !inserted) before = LastAlerts::Of(device);
  device.Apply(e.event_time, e.code, e.throttled_count, (e.present & AlertEvent::kHasVoltage) != 0,
               e.voltage_dv, layout_->IsOutageStart(code_slot), layout_->IsOutageEnd(code_slot));
  fleet_.Add(e.event_time, area_slot, code_slot, e.generation, e.dmc.value, e.cohort.value,
             e.throttled_count);
  alerts_total_[layout_->MainCell(area_slot, code_slot, e.generation)].Add(e.throttled_count);
  if (rule_inputs_) {
    rule_inputs_->Add(e, code_slot, area_slot, layout_->IsOutageStart(code_slot),
                      layout_->IsOutageEnd(code_slot), layout_->IsRestoredLong(code_slot), device,
                      before, e.throttled_count);
  }
  counters_.accepted.Add(1);
  return ApplyOutcome::kAccepted;
}

void Worker::ApplyBatch(std::span<const AlertEvent> events, std::span<const int64_t> stream_ms) {
  // The tables are far larger than the caches and, on a virtual machine, than the TLB's reach:
  // each random access risks a page walk as well as a cache miss. Prefetches are issued in
  // groups so that their misses and page walks overlap: while group g is applied, the device key
  // slots and primary dedup sets of group g+2 are fetched, and the device states and (when the
  // lookup will read it) the other dedup set of group g+1 (each found through the line of the
  // first stage, cached by then). One prefetch per event,
  // interleaved with the work, measured about 35 % slower in a same-run A/B of
  // smetsmon-bench-engine: each prefetch's miss then overlapped little with the next.
  constexpr size_t kGroup = 32;
  const size_t n = events.size();
  const auto prefetch_keys = [&](size_t from) {
    for (size_t j = from; j < std::min(n, from + kGroup); ++j) {
      devices_.Prefetch(events[j].device.value);
      dedup_.Prefetch(events[j].alert_fingerprint, DedupSegmentOf(events[j].device));
      if (rule_inputs_) rule_inputs_->PrefetchKey(events[j].device.value);
    }
  };
  const auto prefetch_values = [&](size_t from) {
    for (size_t j = from; j < std::min(n, from + kGroup); ++j) {
      dedup_.PrefetchOther(events[j].alert_fingerprint, DedupSegmentOf(events[j].device));
      devices_.PrefetchValue(events[j].device.value);
      if (rule_inputs_) rule_inputs_->PrefetchTally(events[j].device.value);
    }
  };
  prefetch_keys(0);
  prefetch_keys(kGroup);
  prefetch_values(0);
  for (size_t g = 0; g < n; g += kGroup) {
    prefetch_keys(g + 2 * kGroup);
    prefetch_values(g + kGroup);
    if (stream_ms.empty()) {
      for (size_t i = g; i < std::min(n, g + kGroup); ++i) Apply(events[i]);
    } else {
      for (size_t i = g; i < std::min(n, g + kGroup); ++i) {
        Apply(events[i], EventTime{stream_ms[i]});
      }
    }
  }
}

}  // namespace smetsmon::aggregate
