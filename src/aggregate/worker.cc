#include "aggregate/worker.h"

namespace smetsmon::aggregate {

Worker::Worker(const FleetLayout& layout, const EngineConfig& config, size_t shard_count)
    : layout_(&layout),
      catalogue_(&layout.catalogue()),
      areas_(&layout.areas()),
      idle_lag_ms_(config.idle_lag_ms),
      stream_ms_(EventTime::Min().ms),
      devices_(config.expected_devices / shard_count),
      dedup_(config.dedup_capacity / shard_count, config.dedup_horizon_ms),
      fleet_(layout, config.window),
      alerts_total_(new Counter[layout.main_cells()]),
      rule_inputs_(config.rule_inputs != nullptr ? std::make_unique<RuleInputs>(*config.rule_inputs)
                                                 : nullptr),
      noisy_publish_interval_ms_(config.noisy_publish_interval_ms) {}

void Worker::PublishRuleInputs(int64_t interval_ms) {
  if (!rule_inputs_) return;
  rule_inputs_->MaybePublish(stream_time(), interval_ms, [this](uint64_t id) -> const DeviceState* {
    return devices_.Find(id);
  });
}

void Worker::MoveStreamTime(EventTime t) {
  if (t.ms > stream_ms_.load(std::memory_order_relaxed)) {
    stream_ms_.store(t.ms, std::memory_order_relaxed);
    fleet_.AdvanceTo(t);
    if (rule_inputs_) rule_inputs_->AdvanceTo(t);
  }
}

void Worker::AdvanceIdle(ProcessingTime now) {
  MoveStreamTime(EventTime{now.ms - idle_lag_ms_});
  PublishRuleInputs(noisy_publish_interval_ms_);
}

ApplyOutcome Worker::Apply(const AlertEvent& e) {
  MoveStreamTime(e.event_time);
  if (dedup_.SeenBefore(e.alert_fingerprint, stream_time())) {
    counters_.duplicates.Add(1);
    return ApplyOutcome::kDuplicate;
  }
  const catalog::CodeSlot code_slot = catalogue_->SlotOf(e.code);
  const size_t area_slot = areas_->Slot(e.area);
  bool inserted = false;
  DeviceState& device = devices_.FindOrInsert(e.device.value, &inserted);
  if (inserted) counters_.new_devices.Add(1);
  device.Apply(e.event_time, e.code, e.throttled_count, (e.present & AlertEvent::kHasVoltage) != 0,
               e.voltage_dv, layout_->IsOutageStart(code_slot), layout_->IsOutageEnd(code_slot));
  fleet_.Add(e.event_time, area_slot, code_slot, e.generation, e.dmc.value, e.cohort.value,
             e.throttled_count);
  alerts_total_[layout_->MainCell(area_slot, code_slot, e.generation)].Add(e.throttled_count);
  if (rule_inputs_) {
    rule_inputs_->Add(e, code_slot, area_slot, layout_->IsOutageStart(code_slot),
                      layout_->IsOutageEnd(code_slot), layout_->IsRestoredLong(code_slot), device,
                      e.throttled_count);
  }
  counters_.accepted.Add(1);
  return ApplyOutcome::kAccepted;
}

void Worker::ApplyBatch(std::span<const AlertEvent> events) {
  // A two-stage prefetch pipeline over random accesses into tables far larger than the caches:
  // 16 events ahead, the device's key slot; 8 ahead, the dedup set and the device's state (its
  // slot is found by probing the now-cached keys). Fewer misses in flight at once measured
  // faster than prefetching the dedup set 16 ahead too.
  constexpr size_t kKeysAhead = 16;
  constexpr size_t kValuesAhead = 8;
  const size_t n = events.size();
  for (size_t i = 0; i < std::min(n, kKeysAhead); ++i) devices_.Prefetch(events[i].device.value);
  for (size_t i = 0; i < std::min(n, kValuesAhead); ++i) {
    dedup_.Prefetch(events[i].alert_fingerprint);
    devices_.PrefetchValue(events[i].device.value);
  }
  for (size_t i = 0; i < n; ++i) {
    if (i + kKeysAhead < n) devices_.Prefetch(events[i + kKeysAhead].device.value);
    if (i + kValuesAhead < n) {
      dedup_.Prefetch(events[i + kValuesAhead].alert_fingerprint);
      devices_.PrefetchValue(events[i + kValuesAhead].device.value);
    }
    Apply(events[i]);
  }
  PublishRuleInputs(noisy_publish_interval_ms_);
}

}  // namespace smetsmon::aggregate
