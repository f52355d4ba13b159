#include "aggregate/rule_inputs.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/fields.h"
#include "smetsmon/status.h"

namespace smetsmon::aggregate {
namespace {

size_t RoundUpPow2(size_t n) { return std::bit_ceil(std::max<size_t>(n, 2)); }

// Adds to a counter only its owning worker writes, readers load it from any thread: a plain
// load and store, no read-modify-write instruction.
void AddRelaxed(std::atomic<uint64_t>& c, uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

constexpr int64_t kSecondsPerHour = 3600;

// The noisy-device table of checkpoints version 3-5 (48 bytes, written raw): codes tallied from
// the moment a device crossed the threshold, with no times.
struct LegacyNoisyDevice {
  uint64_t device;
  AreaId area;
  Generation generation;
  uint16_t dmc;
  uint32_t alerts_24h;
  int64_t last_ms;
  uint32_t code[3];
  uint32_t code_count[3];
};
static_assert(sizeof(LegacyNoisyDevice) == 48 && std::is_trivially_copyable_v<LegacyNoisyDevice>);

void WriteRing(BinaryWriter& w, const window::BucketRing& ring) {
  const auto raw = ring.Export();
  w.Pod(raw.stream_ms);
  w.Pod(raw.newest_bucket);
  w.Pod(raw.late);
  w.Vector(raw.tags);
  w.Vector(raw.cells);
}

window::BucketRing::Raw ReadRingRaw(BinaryReader& r) {
  window::BucketRing::Raw raw;
  raw.stream_ms = r.Pod<int64_t>();
  raw.newest_bucket = r.Pod<int64_t>();
  raw.late = r.Pod<uint64_t>();
  raw.tags = r.Vector<int64_t>(size_t{1} << 20);
  raw.cells = r.Vector<uint32_t>(size_t{1} << 28);
  return raw;
}

// The windows of a checkpoint part go back only when there are as many as this build keeps, each
// of the same shape (else they were taken under other rules and start empty).
void ImportRings(const std::vector<window::BucketRing::Raw>& raws,
                 const std::vector<window::BucketRing*>& rings) {
  if (raws.size() != rings.size()) return;
  for (size_t i = 0; i < raws.size(); ++i) rings[i]->Import(raws[i]);
}

bool InRing(int64_t hour, int64_t newest_hour) {
  return hour <= newest_hour && hour > newest_hour - 24;
}

size_t HourIndex(int64_t hour) { return static_cast<size_t>(hour % 24); }

void BumpSaturating(uint8_t& c, uint32_t n) {
  c = static_cast<uint8_t>(std::min<uint32_t>(255, uint32_t{c} + n));
}

}  // namespace

RuleInputs::RuleInputs(const RuleInputsSetup& setup)
    : setup_(&setup),
      class_of_slot_(std::make_shared<const std::vector<uint8_t>>(setup.class_of_slot)),
      delivery_minutes_(kMsPerMinute, 60, setup.allowed_lateness_ms,
                        std::max<size_t>(1, setup.delivery_cells())),
      delivery_hours_(kMsPerHour, static_cast<int>(setup.month_hours), setup.allowed_lateness_ms,
                      std::max<size_t>(1, setup.delivery_cells())),
      latency_totals_(new std::atomic<uint64_t>[std::max<size_t>(1, setup.latency_total_cells())]),
      // Room for every shard's quota: the quota, not the ring, decides what is dropped.
      signals_(new OutageSignalRecord[RoundUpPow2(PerShardQuota(setup.signal_capacity) *
                                                  kVirtualShards)]),
      signal_mask_(RoundUpPow2(PerShardQuota(setup.signal_capacity) * kVirtualShards) - 1),
      noisy_quota_(PerShardQuota(setup.noisy_capacity)),
      track_quota_(PerShardQuota(setup.noisy_track_capacity)),
      signal_quota_(PerShardQuota(setup.signal_capacity)),
      migration_(setup.migration, setup.allowed_lateness_ms) {
  SMETSMON_CHECK(setup.class_of_slot.empty() || !setup.class_names.empty());
  SMETSMON_CHECK(setup.class_names.size() == setup.class_target_ms.size());
  for (size_t i = 0; i < std::max<size_t>(1, setup.latency_total_cells()); ++i) {
    latency_totals_[i].store(0, std::memory_order_relaxed);
  }
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
                     const LastAlerts& before, uint32_t n) {
  const RuleInputsSetup& s = *setup_;
  migration_.Add(e, n);
  if ((e.present & AlertEvent::kHasDccTime) && !s.class_names.empty()) {
    const size_t cls = (*class_of_slot_)[code_slot];
    const size_t region = s.region_of_area_slot[area_slot];
    const size_t base = s.DeliveryCell(cls, region);
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
    // The histogram's counters: every delivered alert, late for the windows or not. A dcc_time
    // before the event time (clock skew) counts in the first bucket and adds 0 to the sum, so
    // the sum never goes down.
    std::atomic<uint64_t>* totals = &latency_totals_[s.LatencyTotalCell(cls, region)];
    AddRelaxed(totals[bucket], 1);
    AddRelaxed(totals[s.latency_buckets()], static_cast<uint64_t>(std::max<int64_t>(latency, 0)));
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
  if (alerts_24h >= s.noisy_track_codes_from) TrackCodes(e, device, before, alerts_24h, n);
}

void RuleInputs::PushSignal(const OutageSignalRecord& s) {
  uint32_t& in_shard = shard_signals_[VirtualShardOf(DeviceId{s.device})];
  const uint64_t head = signal_head_.load(std::memory_order_relaxed);
  if (in_shard >= signal_quota_ ||
      head - signal_tail_.load(std::memory_order_acquire) > signal_mask_) {
    AddRelaxed(signals_dropped_, 1);
    return;
  }
  ++in_shard;
  signals_[head & signal_mask_] = s;
  signal_head_.store(head + 1, std::memory_order_release);
}

void RuleInputs::DrainSignals(const std::function<void(const OutageSignalRecord&)>& fn) {
  const uint64_t head = signal_head_.load(std::memory_order_acquire);
  uint64_t tail = signal_tail_.load(std::memory_order_relaxed);
  for (; tail < head; ++tail) fn(signals_[tail & signal_mask_]);
  signal_tail_.store(tail, std::memory_order_release);
  shard_signals_.fill(0);
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

bool RuleInputs::Admit(size_t shard, uint32_t alerts_24h) {
  if (alerts_24h > setup_->noisy_threshold_24h) {
    if (shard_noisy_[shard] < noisy_quota_) return true;
    AddRelaxed(noisy_dropped_, 1);
    return false;
  }
  if (shard_tracked_[shard] - shard_noisy_[shard] < track_quota_) return true;
  AddRelaxed(codes_untracked_, 1);
  return false;
}

void RuleInputs::SetNoisy(uint64_t id, Tracked& t, bool noisy) {
  if (noisy == (t.noisy != 0)) return;
  const size_t shard = VirtualShardOf(DeviceId{id});
  if (!noisy) {
    noisy_ids_.erase(id);
    --shard_noisy_[shard];
    t.noisy = 0;
    return;
  }
  if (shard_noisy_[shard] >= noisy_quota_) {
    AddRelaxed(noisy_dropped_, 1);
    return;
  }
  noisy_ids_.insert(id);
  ++shard_noisy_[shard];
  t.noisy = 1;
}

void RuleInputs::EraseTracked(uint64_t id) {
  const size_t shard = VirtualShardOf(DeviceId{id});
  if (noisy_ids_.erase(id) != 0) --shard_noisy_[shard];
  if (tracked_.Erase(id)) --shard_tracked_[shard];
}

void RuleInputs::RestoreTracked(uint64_t id, Tracked t) {
  const size_t shard = VirtualShardOf(DeviceId{id});
  const bool noisy = t.noisy != 0 && shard_noisy_[shard] < noisy_quota_;
  if (!noisy && shard_tracked_[shard] - shard_noisy_[shard] >= track_quota_) return;
  t.noisy = noisy ? 1 : 0;
  bool inserted = false;
  Tracked& slot = tracked_.FindOrInsert(id, &inserted);
  if (!inserted) return;
  slot = t;
  ++shard_tracked_[shard];
  if (noisy) {
    noisy_ids_.insert(id);
    ++shard_noisy_[shard];
  }
}

namespace {

// Moves a tracked ring to `newest_hour`, clearing the hours it moves over (as DeviceState::Apply).
template <typename T>
void Roll(T& t, int64_t newest_hour) {
  if (newest_hour <= t.newest_hour) return;
  for (int64_t k = std::max<int64_t>(t.newest_hour + 1, newest_hour - 23); k <= newest_hour; ++k) {
    std::memset(t.count[HourIndex(k)], 0, sizeof t.count[0]);
  }
  t.newest_hour = static_cast<int32_t>(newest_hour);
}

// The slot counting `code`: its own, else a free one (all its hours 0), else "other".
template <typename T>
int SlotFor(T& t, uint32_t code) {
  for (int i = 0; i < T::kCodes; ++i) {
    if (t.code[i] == code) return i;
  }
  for (int i = 0; i < T::kCodes; ++i) {
    bool free = true;
    for (const auto& hour : t.count) free = free && hour[i] == 0;
    if (free) {
      t.code[i] = code;
      return i;
    }
  }
  return T::kCodes;
}

// Whether the tally holds exactly what the device's ring holds, the alert being applied (`added`
// in hour `hour`) apart: then it missed nothing. Hours saturated in the device's ring are not
// compared.
template <typename T>
bool InStep(const T& t, const DeviceState& d, int64_t hour, uint32_t added) {
  for (int64_t k = t.newest_hour - 23; k <= t.newest_hour; ++k) {
    uint32_t dev = d.hour_counts[HourIndex(k)];
    if (dev == 255) continue;
    if (k == hour) dev -= std::min(dev, added);
    uint32_t tracked = 0;
    for (uint8_t c : t.count[HourIndex(k)]) tracked += c;
    if (tracked != dev) return false;
  }
  return true;
}

}  // namespace

void RuleInputs::Seed(Tracked& t, const AlertEvent& e, const DeviceState& device,
                      const LastAlerts& before, uint32_t alerts_24h, uint32_t added) const {
  const int64_t newest_hour = int64_t{device.last_time_s[0]} / kSecondsPerHour;
  std::memset(t.count, 0, sizeof t.count);
  std::fill(std::begin(t.code), std::end(t.code), 0u);
  t.newest_hour = static_cast<int32_t>(newest_hour);
  // What each hour of the device's ring holds that is not yet attributed to a code: an
  // attribution never exceeds it, so a count is never invented.
  uint32_t left[24];
  for (size_t k = 0; k < 24; ++k) left[k] = device.hour_counts[k];
  const auto attribute = [&](uint32_t code, int64_t hour, uint32_t weight) {
    if (!InRing(hour, newest_hour)) return;
    const size_t k = HourIndex(hour);
    const uint32_t w = std::min(weight, left[k]);
    if (w == 0) return;
    BumpSaturating(t.count[k][SlotFor(t, code)], w);
    left[k] -= w;
  };
  attribute(e.code.value, e.event_time.ms / kMsPerHour, added);
  // The device's other alerts in the window. Its state kept its newest two messages before this
  // one; every other earlier message is no newer than the second. So when the second is outside
  // the window (or there is none), the newest is the only earlier message inside it and stands
  // for all of the window's other alerts (it may have been throttled); otherwise each of the two
  // is at least one alert and the rest, if any, stay untracked.
  const uint32_t others = alerts_24h - std::min(alerts_24h, added);
  const auto hour_of = [](uint32_t time_s) { return int64_t{time_s} / kSecondsPerHour; };
  const bool first_in = before.time_s[0] != 0 && InRing(hour_of(before.time_s[0]), newest_hour);
  const bool second_in = before.time_s[1] != 0 && InRing(hour_of(before.time_s[1]), newest_hour);
  if (first_in) attribute(before.code[0], hour_of(before.time_s[0]), second_in ? 1 : others);
  if (second_in) attribute(before.code[1], hour_of(before.time_s[1]), 1);
}

void RuleInputs::TrackCodes(const AlertEvent& e, const DeviceState& device,
                            const LastAlerts& before, uint32_t alerts_24h, uint32_t n) {
  const RuleInputsSetup& s = *setup_;
  const int64_t newest_hour = int64_t{device.last_time_s[0]} / kSecondsPerHour;
  const int64_t hour = e.event_time.ms / kMsPerHour;
  // What this alert added to the device's ring: nothing when it is older than the ring.
  const uint32_t added = InRing(hour, newest_hour) ? n : 0;
  // The device's count before this alert was below the mark: it enters now, and what its state
  // knows of its earlier alerts is all there is to know (exact up to the mark's 3 alerts unless
  // throttled).
  const bool entering = uint64_t{alerts_24h} < uint64_t{s.noisy_track_codes_from} + added;
  Tracked* found = tracked_.Find(e.device.value);
  if (found == nullptr) {
    // Rare: once per device reaching the mark (or crossing it while the table was full).
    const size_t shard = VirtualShardOf(e.device);
    if (!Admit(shard, alerts_24h)) return;
    bool inserted = false;
    found = &tracked_.FindOrInsert(e.device.value, &inserted);
    ++shard_tracked_[shard];
    Seed(*found, e, device, before, alerts_24h, added);
  } else {
    Tracked& t = *found;
    Roll(t, newest_hour);
    // A device that fell below the mark stopped being counted (its tally is stale): start again.
    if (entering && !InStep(t, device, hour, added)) {
      Seed(t, e, device, before, alerts_24h, added);
    } else if (added != 0) {
      BumpSaturating(t.count[HourIndex(hour)][SlotFor(t, e.code.value)], added);
    }
  }
  Tracked& t = *found;
  t.area = e.area;
  t.generation = e.generation;
  t.dmc = e.dmc.value;
  t.last_ms = std::max(t.last_ms, e.event_time.ms);
  if (t.noisy == 0 && alerts_24h > s.noisy_threshold_24h) SetNoisy(e.device.value, t, true);
}

NoisyDevice RuleInputs::Breakdown(uint64_t id, const Tracked& t, const DeviceState& state,
                                  EventTime now) const {
  NoisyDevice d;
  d.device = id;
  d.area = t.area;
  d.generation = t.generation;
  d.dmc = t.dmc;
  d.last_ms = t.last_ms;
  // The hours DeviceState::AlertsIn24h(now) sums, for the device's ring and for the tally's.
  const int64_t now_hour = now.ms / kMsPerHour;
  const int64_t device_newest =
      state.seen() ? int64_t{state.last_time_s[0]} / kSecondsPerHour : INT64_MIN / 2;
  const int64_t from = std::max(device_newest, now_hour) - 23;
  uint32_t by_slot[Tracked::kCodes + 1] = {};
  for (int64_t k = from; k <= now_hour; ++k) {
    const uint32_t dev = InRing(k, device_newest) ? state.hour_counts[HourIndex(k)] : 0;
    uint32_t tracked = 0;
    if (InRing(k, t.newest_hour)) {
      for (int i = 0; i <= Tracked::kCodes; ++i) {
        by_slot[i] += t.count[HourIndex(k)][i];
        tracked += t.count[HourIndex(k)][i];
      }
    }
    // An hour over 255 alerts saturates the device's ring; the tally, counting per code, then
    // knows more, and its count is the hour's.
    d.alerts_24h += std::max(dev, tracked);
    d.untracked += dev - std::min(dev, tracked);
  }
  int order[Tracked::kCodes];
  for (int i = 0; i < Tracked::kCodes; ++i) order[i] = i;
  std::sort(std::begin(order), std::end(order), [&](int a, int b) {
    return by_slot[a] != by_slot[b] ? by_slot[a] > by_slot[b] : t.code[a] < t.code[b];
  });
  d.other_count = by_slot[Tracked::kCodes];
  int listed = 0;
  for (int i : order) {
    if (by_slot[i] == 0) continue;
    if (listed < NoisyDevice::kTopCodes) {
      d.code[listed] = t.code[i];
      d.code_count[listed] = by_slot[i];
      ++listed;
    } else {
      d.other_count += by_slot[i];
    }
  }
  return d;
}

std::optional<NoisyDevice> RuleInputs::CodesOf(uint64_t device, const DeviceState& state,
                                               EventTime now) const {
  const Tracked* t = tracked_.Find(device);
  if (t == nullptr) return std::nullopt;
  return Breakdown(device, *t, state, now);
}

void RuleInputs::Publish(EventTime stream_time,
                         const std::function<const DeviceState*(uint64_t)>& find) {
  const RuleInputsSetup& s = *setup_;
  // A device's count only falls when an hour leaves its window: once per stream hour, the
  // devices below the mark stop being counted (the whole table, off the per-event path).
  const int64_t hour = stream_time.ms / kMsPerHour;
  if (hour != swept_hour_) {
    swept_hour_ = hour;
    std::vector<uint64_t> leaving;
    tracked_.ForEach([&](uint64_t id, const Tracked& t) {
      // The tally's own count in the window is at most the device's: when it reaches the mark,
      // the device's state need not be looked up (a random access into a table of millions).
      uint32_t tallied = 0;
      for (int64_t k = std::max<int64_t>(hour, t.newest_hour) - 23;
           k <= std::min<int64_t>(hour, t.newest_hour) && tallied < s.noisy_track_codes_from; ++k) {
        for (uint8_t c : t.count[HourIndex(k)]) tallied += c;
      }
      if (tallied >= s.noisy_track_codes_from) return;
      const DeviceState* state = find(id);
      if (state == nullptr || state->AlertsIn24h(stream_time) < s.noisy_track_codes_from) {
        leaving.push_back(id);
      }
    });
    for (uint64_t id : leaving) EraseTracked(id);
  }
  std::vector<NoisyDevice> copy;
  copy.reserve(noisy_ids_.size());
  for (auto it = noisy_ids_.begin(); it != noisy_ids_.end();) {
    const uint64_t id = *it;
    Tracked& t = *tracked_.Find(id);
    const DeviceState* state = find(id);
    const NoisyDevice d = state != nullptr ? Breakdown(id, t, *state, stream_time) : NoisyDevice{};
    if (d.alerts_24h <= s.noisy_threshold_24h) {
      t.noisy = 0;
      --shard_noisy_[VirtualShardOf(DeviceId{id})];
      noisy_ids_.erase(it++);
      continue;
    }
    copy.push_back(d);
    ++it;
  }
  std::sort(copy.begin(), copy.end(), [](const NoisyDevice& a, const NoisyDevice& b) {
    return a.alerts_24h != b.alerts_24h ? a.alerts_24h > b.alerts_24h : a.device < b.device;
  });
  std::lock_guard lock(published_mu_);
  published_ = std::move(copy);
}

void RuleInputs::SumLatencyTotals(std::span<uint64_t> out) const {
  const size_t n = std::min(out.size(), setup_->latency_total_cells());
  for (size_t i = 0; i < n; ++i) out[i] += latency_totals_[i].load(std::memory_order_relaxed);
}

std::vector<uint64_t> RuleInputs::ExportLatencyTotals() const {
  std::vector<uint64_t> out(setup_->latency_total_cells(), 0);
  SumLatencyTotals(out);
  return out;
}

bool RuleInputs::ImportLatencyTotals(std::span<const uint64_t> cells) {
  if (cells.size() != setup_->latency_total_cells()) return false;
  for (size_t i = 0; i < cells.size(); ++i) {
    latency_totals_[i].store(cells[i], std::memory_order_relaxed);
  }
  return true;
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
  rings.push_back(&migration_.ring());  // not in a version-5 checkpoint: restored empty
  return rings;
}

namespace {

// What the latency totals' cells mean: the regions, the classes by name, the latency bounds.
uint64_t LatencyTotalsKey(const RuleInputsSetup& s) {
  std::string text = absl::StrCat("latency-totals/1;", s.region_slots, ";");
  for (const std::string& c : s.class_names) absl::StrAppend(&text, c.size(), ":", c, ",");
  absl::StrAppend(&text, ";");
  for (int64_t b : s.latency_bounds_ms) absl::StrAppend(&text, b, ",");
  return StableHash64(text);
}

}  // namespace

void RuleInputs::SaveState(BinaryWriter& w) const {
  const std::vector<window::BucketRing*> rings = const_cast<RuleInputs*>(this)->MutableRings();
  w.Pod<uint32_t>(static_cast<uint32_t>(rings.size()));
  for (const window::BucketRing* ring : rings) WriteRing(w, *ring);
  w.Pod<uint64_t>(tracked_.size());
  tracked_.ForEach([&w](uint64_t id, const Tracked& t) {
    w.Pod(id);
    w.Pod(t);
  });
  w.Pod(swept_hour_);
  w.Pod(noisy_dropped());
  w.Pod(codes_untracked());
  w.Pod(signals_dropped());
  w.Vector(PendingSignals());
  // The delivery latency histogram's counters, with what their cells mean.
  w.Pod(LatencyTotalsKey(*setup_));
  w.Vector(ExportLatencyTotals());
}

absl::Status RuleInputs::LoadState(BinaryReader& r, uint32_t version) {
  tracked_.Clear();
  noisy_ids_.clear();
  shard_tracked_.fill(0);
  shard_noisy_.fill(0);
  swept_hour_ = 0;
  if (version < 6) return ReadLegacy(r, version, this);
  const auto ring_count = r.Pod<uint32_t>();
  std::vector<window::BucketRing::Raw> raws;
  for (uint32_t i = 0; i < ring_count && r.ok(); ++i) raws.push_back(ReadRingRaw(r));
  const auto tracked = r.Pod<uint64_t>();
  if (!r.ok() || tracked > r.remaining() / (sizeof(uint64_t) + sizeof(Tracked))) {
    return absl::DataLossError("malformed rule inputs");
  }
  ImportRings(raws, MutableRings());
  for (uint64_t i = 0; i < tracked; ++i) {
    const auto id = r.Pod<uint64_t>();
    const auto t = r.Pod<Tracked>();
    if (!r.ok() || t.noisy > 1 || t.newest_hour < 0) {
      return absl::DataLossError("malformed device in the rule inputs' code counts");
    }
    if (id == kBroadcastEui64 || tracked_.Find(id) != nullptr) {
      return absl::DataLossError("malformed rule inputs: a device id twice or ~0");
    }
    // Taken under larger capacities: what fits is kept, noisy devices first come first.
    RestoreTracked(id, t);
  }
  swept_hour_ = r.Pod<int64_t>();
  noisy_dropped_.store(r.Pod<uint64_t>(), std::memory_order_relaxed);
  codes_untracked_.store(r.Pod<uint64_t>(), std::memory_order_relaxed);
  const auto dropped = r.Pod<uint64_t>();
  const std::vector<OutageSignalRecord> signals =
      r.Vector<OutageSignalRecord>(setup_->signal_capacity);
  // The delivery latency totals (after the signals: a part that ends before them leaves them at
  // zero). Taken under other classes, latency buckets or regions (another key or size) they
  // would count in the wrong series: they start at zero.
  uint64_t latency_key = 0;
  std::vector<uint64_t> latency_totals;
  const bool has_latency_totals = r.ok() && r.remaining() > 0;
  if (has_latency_totals) {
    latency_key = r.Pod<uint64_t>();
    latency_totals = r.Vector<uint64_t>(size_t{1} << 24);
  }
  if (!r.ok()) return absl::DataLossError("truncated or malformed rule inputs");
  RestoreSignals(signals, dropped);
  if (has_latency_totals && latency_key == LatencyTotalsKey(*setup_)) {
    ImportLatencyTotals(latency_totals);
  }
  return absl::OkStatus();
}

void RuleInputs::Absorb(RuleInputs& from,
                        const std::function<RuleInputs&(uint64_t device)>& owner_of) {
  const std::vector<window::BucketRing*> mine = MutableRings();
  const std::vector<window::BucketRing*> theirs = from.MutableRings();
  SMETSMON_CHECK(mine.size() == theirs.size());  // one setup: the same windows
  for (size_t i = 0; i < mine.size(); ++i) {
    window::BucketRing::Raw raw = mine[i]->Export();
    SMETSMON_CHECK(window::BucketRing::MergeRaw(raw, theirs[i]->Export()));
    mine[i]->Import(raw);
  }
  from.tracked_.ForEach([&](uint64_t id, const Tracked& t) { owner_of(id).RestoreTracked(id, t); });
  AddRelaxed(noisy_dropped_, from.noisy_dropped());
  AddRelaxed(codes_untracked_, from.codes_untracked());
  AddRelaxed(signals_dropped_, from.signals_dropped());
  for (const OutageSignalRecord& signal : from.PendingSignals()) PushSignal(signal);
  std::vector<uint64_t> totals = ExportLatencyTotals();
  from.SumLatencyTotals(totals);
  ImportLatencyTotals(totals);
  swept_hour_ = std::max(swept_hour_, from.swept_hour_);
}

absl::Status RuleInputs::SkipLegacyState(BinaryReader& r, uint32_t version) {
  return ReadLegacy(r, version, nullptr);
}

absl::Status RuleInputs::ReadLegacy(BinaryReader& r, uint32_t version, RuleInputs* into) {
  const auto ring_count = r.Pod<uint32_t>();
  std::vector<window::BucketRing::Raw> raws;
  for (uint32_t i = 0; i < ring_count && r.ok(); ++i) raws.push_back(ReadRingRaw(r));
  const auto noisy_count = r.Pod<uint64_t>();
  if (!r.ok() || noisy_count > r.remaining() / sizeof(LegacyNoisyDevice)) {
    return absl::DataLossError("malformed rule inputs");
  }
  std::vector<LegacyNoisyDevice> noisy(noisy_count);
  for (LegacyNoisyDevice& d : noisy) d = r.Pod<LegacyNoisyDevice>();
  uint64_t dropped = 0;
  std::vector<OutageSignalRecord> signals;
  if (version >= 5) {
    dropped = r.Pod<uint64_t>();
    signals = r.Vector<OutageSignalRecord>(into != nullptr ? into->setup_->signal_capacity
                                                           : size_t{1} << 20);
  }
  if (!r.ok()) return absl::DataLossError("truncated or malformed rule inputs");
  if (into == nullptr) return absl::OkStatus();
  // The windows of those versions: delivery (2), then what-if (2) when configured. Windows this
  // build added after them (the same count is required of the rest) start empty.
  std::vector<window::BucketRing*> rings = into->MutableRings();
  rings.resize(std::min(rings.size(), size_t{into->whatif_minutes_ ? 4u : 2u}));
  ImportRings(raws, rings);
  // The old noisy table knew each device's dominant codes but not when their alerts came: the
  // device is tracked with those codes and no counts, so that all of its alerts so far are
  // reported as untracked, and those from here on by code.
  for (const LegacyNoisyDevice& old : noisy) {
    if (old.device == kBroadcastEui64 || old.last_ms < 0) continue;
    Tracked t{};
    for (int i = 0; i < 3; ++i) {
      if (old.code_count[i] != 0) t.code[i] = old.code[i];
    }
    t.last_ms = old.last_ms;
    t.newest_hour = static_cast<int32_t>(old.last_ms / kMsPerHour);
    t.dmc = old.dmc;
    t.area = old.area;
    t.generation = old.generation;
    t.noisy = 1;
    into->RestoreTracked(old.device, t);
  }
  into->RestoreSignals(signals, dropped);
  return absl::OkStatus();
}

}  // namespace smetsmon::aggregate
