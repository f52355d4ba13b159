#include "aggregate/rule_inputs.h"

#include <algorithm>
#include <bit>

#include "smetsmon/status.h"

namespace smetsmon::aggregate {
namespace {

size_t RoundUpPow2(size_t n) { return std::bit_ceil(std::max<size_t>(n, 2)); }

}  // namespace

RuleInputs::RuleInputs(const RuleInputsSetup& setup)
    : setup_(&setup),
      class_of_slot_(std::make_shared<const std::vector<uint8_t>>(setup.class_of_slot)),
      delivery_minutes_(kMsPerMinute, 60, setup.allowed_lateness_ms,
                        std::max<size_t>(1, setup.delivery_cells())),
      delivery_hours_(kMsPerHour, static_cast<int>(setup.month_hours), setup.allowed_lateness_ms,
                      std::max<size_t>(1, setup.delivery_cells())),
      signals_(new OutageSignalRecord[RoundUpPow2(setup.signal_capacity)]),
      signal_mask_(RoundUpPow2(setup.signal_capacity) - 1) {
  SMETSMON_CHECK(setup.class_of_slot.empty() || !setup.class_names.empty());
  SMETSMON_CHECK(setup.class_names.size() == setup.class_target_ms.size());
  if (!setup.voltage_rules.empty()) {
    whatif_minutes_ = std::make_unique<window::BucketRing>(
        kMsPerMinute, 60, setup.allowed_lateness_ms, setup.whatif_cells());
    whatif_hours_ = std::make_unique<window::BucketRing>(kMsPerHour, 24, setup.allowed_lateness_ms,
                                                         setup.whatif_cells());
  }
}

void RuleInputs::SetClassOfSlot(std::shared_ptr<const std::vector<uint8_t>> table) {
  SMETSMON_CHECK(table != nullptr && table->size() == setup_->class_of_slot.size());
  for (uint8_t cls : *table) SMETSMON_CHECK(cls < setup_->class_names.size());
  class_of_slot_ = std::move(table);
}

void RuleInputs::Add(const AlertEvent& e, size_t code_slot, size_t area_slot, bool outage_start,
                     bool outage_restored, bool restored_long, const DeviceState& device,
                     uint32_t n) {
  const RuleInputsSetup& s = *setup_;
  if ((e.present & AlertEvent::kHasDccTime) && !s.class_names.empty()) {
    const size_t cls = (*class_of_slot_)[code_slot];
    const size_t base = s.DeliveryCell(cls, s.region_of_area_slot[area_slot]);
    const int64_t latency = e.dcc_time.ms - e.event_time.ms;
    size_t bucket = 0;
    while (bucket < s.latency_bounds_ms.size() && latency > s.latency_bounds_ms[bucket]) ++bucket;
    const bool within = latency <= s.class_target_ms[cls];
    const size_t within_cell = base + s.latency_buckets();
    // Delivery counts messages: a throttled alert is delivered once, whatever it stands for.
    for (window::BucketRing* ring : {&delivery_minutes_, &delivery_hours_}) {
      if (auto* cells = ring->BucketFor(e.event_time)) {
        window::BucketRing::Bump(cells[base + bucket], 1);
        if (within) window::BucketRing::Bump(cells[within_cell], 1);
        window::BucketRing::Bump(cells[within_cell + 1], 1);
      }
    }
  }
  if ((e.present & AlertEvent::kHasVoltage) && whatif_minutes_) {
    const bool smets1 = e.generation == Generation::kSmets1;
    const int8_t rule_index = s.voltage_rule_of_cell[code_slot * 2 + (smets1 ? 0 : 1)];
    if (rule_index >= 0) {
      const auto rule_i = static_cast<size_t>(rule_index);
      const VoltageRule& rule = s.voltage_rules[rule_i];
      const size_t area_row = s.WhatIfAreaRow(rule_i, area_slot);
      const bool dmc_row_ok = smets1 && e.dmc.value < s.dmc_limit;
      const size_t dmc_row = dmc_row_ok ? s.WhatIfDmcRow(rule_i, e.dmc.value) : 0;
      for (window::BucketRing* ring : {whatif_minutes_.get(), whatif_hours_.get()}) {
        auto* cells = ring->BucketFor(e.event_time);
        if (cells == nullptr) continue;
        for (size_t c = 0; c < rule.candidates_dv.size(); ++c) {
          const int32_t level = rule.candidates_dv[c];
          // Alerts fire at or beyond the level: a level moved past the voltage stops them.
          const bool stopped = rule.over ? e.voltage_dv < level : e.voltage_dv > level;
          if (!stopped) continue;
          window::BucketRing::Bump(cells[area_row + c], n);
          if (dmc_row_ok) window::BucketRing::Bump(cells[dmc_row + c], n);
        }
        window::BucketRing::Bump(cells[area_row + s.max_candidates], n);
        if (dmc_row_ok) window::BucketRing::Bump(cells[dmc_row + s.max_candidates], n);
      }
    }
  }
  if (outage_start || outage_restored) {
    OutageSignalRecord r;
    r.premises = e.mpxn != 0 ? e.mpxn : e.device.value;
    r.device = e.device.value;
    r.time_ms = e.event_time.ms;
    r.area = e.area;
    r.kind = outage_start    ? OutageSignalRecord::Kind::kStart
             : restored_long ? OutageSignalRecord::Kind::kRestoredLong
                             : OutageSignalRecord::Kind::kRestored;
    PushSignal(r);
  }
  const uint32_t alerts_24h = AlertsInRing(device);
  if (alerts_24h >= s.noisy_threshold_24h) TrackNoisy(e, alerts_24h);
}

void RuleInputs::PushSignal(const OutageSignalRecord& s) {
  const uint64_t head = signal_head_.load(std::memory_order_relaxed);
  if (head - signal_tail_.load(std::memory_order_acquire) > signal_mask_) {
    signals_dropped_.store(signals_dropped_.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
    return;
  }
  signals_[head & signal_mask_] = s;
  signal_head_.store(head + 1, std::memory_order_release);
}

void RuleInputs::DrainSignals(const std::function<void(const OutageSignalRecord&)>& fn) {
  const uint64_t head = signal_head_.load(std::memory_order_acquire);
  uint64_t tail = signal_tail_.load(std::memory_order_relaxed);
  for (; tail < head; ++tail) fn(signals_[tail & signal_mask_]);
  signal_tail_.store(tail, std::memory_order_release);
}

std::vector<OutageSignalRecord> RuleInputs::PendingSignals() const {
  const uint64_t head = signal_head_.load(std::memory_order_acquire);
  std::vector<OutageSignalRecord> out;
  for (uint64_t t = signal_tail_.load(std::memory_order_relaxed); t < head; ++t) {
    out.push_back(signals_[t & signal_mask_]);
  }
  return out;
}

void RuleInputs::RestoreSignals(const std::vector<OutageSignalRecord>& signals, uint64_t dropped) {
  signals_dropped_.store(dropped, std::memory_order_relaxed);
  for (const OutageSignalRecord& s : signals) PushSignal(s);
}

void RuleInputs::TrackNoisy(const AlertEvent& e, uint32_t alerts_24h) {
  auto it = noisy_.find(e.device.value);
  if (it == noisy_.end()) {
    if (noisy_.size() >= setup_->noisy_capacity_per_worker) {
      noisy_dropped_.store(noisy_dropped_.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
      return;
    }
    // Rare: once per device crossing the threshold, not per event.
    it = noisy_.emplace(e.device.value, NoisyDevice{}).first;
    it->second.device = e.device.value;
  }
  NoisyDevice& d = it->second;
  d.area = e.area;
  d.generation = e.generation;
  d.dmc = e.dmc.value;
  d.alerts_24h = alerts_24h;
  d.last_ms = std::max(d.last_ms, e.event_time.ms);
  // Space-saving tally of the dominant codes: a new code replaces the least frequent one.
  int at = -1;
  for (int i = 0; i < NoisyDevice::kTopCodes; ++i) {
    if (d.code_count[i] != 0 && d.code[i] == e.code.value) at = i;
  }
  if (at < 0) {
    at = NoisyDevice::kTopCodes - 1;
    for (int i = 0; i < NoisyDevice::kTopCodes; ++i) {
      if (d.code_count[i] < d.code_count[at]) at = i;
    }
    d.code[at] = e.code.value;
  }
  d.code_count[at] += e.throttled_count;
  while (at > 0 && d.code_count[at] > d.code_count[at - 1]) {
    std::swap(d.code[at], d.code[at - 1]);
    std::swap(d.code_count[at], d.code_count[at - 1]);
    --at;
  }
}

void RuleInputs::Publish(EventTime stream_time,
                         const std::function<const DeviceState*(uint64_t)>& find) {
  std::vector<NoisyDevice> copy;
  copy.reserve(noisy_.size());
  for (auto it = noisy_.begin(); it != noisy_.end();) {
    const DeviceState* state = find(it->first);
    const uint32_t now_24h = state != nullptr ? state->AlertsIn24h(stream_time) : 0;
    if (now_24h < setup_->noisy_threshold_24h) {
      noisy_.erase(it++);
      continue;
    }
    it->second.alerts_24h = now_24h;
    copy.push_back(it->second);
    ++it;
  }
  std::sort(copy.begin(), copy.end(), [](const NoisyDevice& a, const NoisyDevice& b) {
    return a.alerts_24h != b.alerts_24h ? a.alerts_24h > b.alerts_24h : a.device < b.device;
  });
  std::lock_guard lock(published_mu_);
  published_ = std::move(copy);
}

std::vector<NoisyDevice> RuleInputs::PublishedNoisy() const {
  std::lock_guard lock(published_mu_);
  return published_;
}

void RuleInputs::SumDelivery(WindowSpan span, EventTime now, std::span<uint64_t> out) const {
  if (span == WindowSpan::k1h) {
    delivery_minutes_.SumIntoOwned(now, 60, out);
  } else {
    delivery_hours_.SumIntoOwned(now, 24, out);
  }
}

void RuleInputs::SumDeliveryHours(EventTime from, EventTime now, std::span<uint64_t> out) const {
  const int64_t hours = now.ms / kMsPerHour - from.ms / kMsPerHour + 1;
  if (hours <= 0) return;
  delivery_hours_.SumIntoOwned(now, static_cast<int>(std::min<int64_t>(hours, setup_->month_hours)),
                               out);
}

void RuleInputs::SumWhatIf(WindowSpan span, EventTime now, std::span<uint64_t> out,
                           size_t live_dmcs) const {
  if (!whatif_minutes_) return;
  // Per rule: its area rows and the rows of the DMC ids in use.
  std::vector<std::pair<size_t, size_t>> ranges;
  if (live_dmcs < setup_->dmc_limit) {
    for (size_t r = 0; r < setup_->voltage_rules.size(); ++r) {
      const size_t begin = setup_->WhatIfAreaRow(r, 0);
      ranges.emplace_back(begin,
                          begin + (setup_->area_slots + live_dmcs) * setup_->whatif_stride());
    }
  }
  if (span == WindowSpan::k1h) {
    whatif_minutes_->SumIntoOwned(now, 60, out, ranges);
  } else {
    whatif_hours_->SumIntoOwned(now, 24, out, ranges);
  }
}

std::vector<window::BucketRing*> RuleInputs::MutableRings() {
  std::vector<window::BucketRing*> rings = {&delivery_minutes_, &delivery_hours_};
  if (whatif_minutes_) {
    rings.push_back(whatif_minutes_.get());
    rings.push_back(whatif_hours_.get());
  }
  return rings;
}

std::vector<NoisyDevice> RuleInputs::ExportNoisy() const {
  std::vector<NoisyDevice> out;
  out.reserve(noisy_.size());
  for (const auto& [id, d] : noisy_) out.push_back(d);
  return out;
}

void RuleInputs::ImportNoisy(const std::vector<NoisyDevice>& devices) {
  noisy_.clear();
  for (const NoisyDevice& d : devices) {
    if (noisy_.size() >= setup_->noisy_capacity_per_worker) break;
    noisy_.emplace(d.device, d);
  }
}

}  // namespace smetsmon::aggregate
