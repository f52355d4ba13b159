#include "aggregate/engine.h"

#include <algorithm>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/binary_file.h"
#include "base/log.h"
#include "smetsmon/status.h"

namespace smetsmon::aggregate {
namespace {

constexpr uint32_t kOtherSlotCode = 0xFFFFFFFF;

struct SnapshotShape {
  uint64_t workers, area_slots, dmc_limit, cohort_limit;
  int64_t lateness_ms, dedup_horizon_ms;
  uint64_t dedup_capacity;
  bool operator==(const SnapshotShape&) const = default;
};
SnapshotShape ShapeOf(const FleetLayout& l, const EngineConfig& c, const Worker& w0) {
  return {c.workers,
          l.area_slots(),
          l.dmc_limit(),
          l.cohort_limit(),
          c.window.allowed_lateness_ms,
          c.dedup_horizon_ms,
          w0.dedup().capacity()};
}

// Where each cell of a snapshot's fleet windows goes in this engine's layout: main cells by the
// code of their slot (codes no longer listed go to "other"), DMC and cohort cells by the name of
// their category (categories gone go to "other").
class CellRemap {
 public:
  CellRemap(const FleetLayout& layout, const std::vector<uint32_t>& slot_codes,
            const std::vector<std::string>& categories)
      : layout_(&layout), old_code_slots_(slot_codes.size()), old_categories_(categories.size()) {
    const catalog::AlertCatalogue& c = layout.catalogue();
    for (uint32_t code : slot_codes) {
      const size_t slot = code == kOtherSlotCode ? c.other_slot() : c.SlotOf(AlertCode{code});
      identity_ = identity_ && slot == slot_.size();
      dropped_codes_ += code != kOtherSlotCode && slot == c.other_slot();
      slot_.push_back(slot);
    }
    for (const std::string& name : categories) {
      const int index = c.CategoryIndexOf(name);
      const size_t category = index >= 0 ? static_cast<size_t>(index) : c.other_category();
      identity_ = identity_ && category == category_.size();
      category_.push_back(category);
    }
    identity_ = identity_ && old_code_slots_ == layout.code_slots() &&
                old_categories_ == layout.categories();
  }
  bool identity() const { return identity_; }
  size_t dropped_codes() const { return dropped_codes_; }
  size_t old_main_cells() const { return layout_->area_slots() * old_code_slots_ * 2; }
  size_t old_total_cells() const {
    return old_main_cells() + (layout_->dmc_limit() + layout_->cohort_limit()) * old_categories_;
  }
  size_t Map(size_t old_cell) const {
    if (old_cell < old_main_cells()) {
      const size_t per_area = old_code_slots_ * 2;
      const size_t area = old_cell / per_area;
      const size_t slot = old_cell % per_area / 2;
      return (area * layout_->code_slots() + slot_[slot]) * 2 + old_cell % 2;
    }
    const size_t k = old_cell - old_main_cells();
    return layout_->main_cells() + k / old_categories_ * layout_->categories() +
           category_[k % old_categories_];
  }
  // One ring's cells, bucket by bucket, from the old layout to this one.
  std::vector<uint32_t> MapRing(const std::vector<uint32_t>& old_cells) const {
    const size_t old_total = old_total_cells();
    const size_t buckets = old_cells.size() / old_total;
    std::vector<uint32_t> out(buckets * layout_->total_cells(), 0);
    for (size_t b = 0; b < buckets; ++b) {
      for (size_t i = 0; i < old_total; ++i) {
        out[b * layout_->total_cells() + Map(i)] += old_cells[b * old_total + i];
      }
    }
    return out;
  }

 private:
  const FleetLayout* layout_;
  size_t old_code_slots_, old_categories_;
  std::vector<size_t> slot_, category_;
  bool identity_ = true;
  size_t dropped_codes_ = 0;
};

void WriteRing(BinaryWriter& w, const window::BucketRing& ring) {
  const auto raw = ring.Export();
  w.Pod(raw.stream_ms);
  w.Pod(raw.newest_bucket);
  w.Pod(raw.late);
  w.Vector(raw.tags);
  w.Vector(raw.cells);
}

window::BucketRing::Raw ReadRingRaw(BinaryReader& r, size_t max_tags, size_t max_cells) {
  window::BucketRing::Raw raw;
  raw.stream_ms = r.Pod<int64_t>();
  raw.newest_bucket = r.Pod<int64_t>();
  raw.late = r.Pod<uint64_t>();
  raw.tags = r.Vector<int64_t>(max_tags);
  raw.cells = r.Vector<uint32_t>(max_cells);
  return raw;
}

bool ReadRing(BinaryReader& r, window::BucketRing& ring) {
  const auto raw = ReadRingRaw(r, ring.ring_size(), ring.ring_size() * ring.cells());
  return r.ok() && ring.Import(raw);
}

bool ReadFleetRing(BinaryReader& r, window::BucketRing& ring, const CellRemap& remap) {
  if (remap.identity()) return ReadRing(r, ring);
  auto raw = ReadRingRaw(r, ring.ring_size(), ring.ring_size() * remap.old_total_cells());
  if (!r.ok() || raw.cells.size() != ring.ring_size() * remap.old_total_cells()) return false;
  raw.cells = remap.MapRing(raw.cells);
  return ring.Import(raw);
}

void WriteSymbols(BinaryWriter& w, const catalog::SymbolTable& t) {
  const size_t n = t.size();
  w.Pod<uint64_t>(n);
  for (size_t i = 0; i < n; ++i) w.String(std::string(t.Name(static_cast<uint16_t>(i + 2))));
}

absl::Status ReadSymbols(BinaryReader& r, catalog::SymbolTable& t, const std::string& path) {
  const auto n = r.Pod<uint64_t>();
  if (!r.ok() || n > t.id_limit())
    return absl::DataLossError(absl::StrCat(path, ": bad symbol table"));
  for (uint64_t i = 0; i < n; ++i) {
    const std::string name = r.String(64);
    if (!r.ok()) break;
    if (t.Intern(name) != static_cast<uint16_t>(i + 2)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": snapshot ", t.kind(), " '", name,
                       "' does not match this process's ids; restore the snapshot before loading "
                       "the inventory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Engine::Engine(const catalog::ReferenceData& ref, const EngineConfig& config)
    : ref_(&ref), config_(config), layout_(*ref.areas, *ref.catalogue, *ref.dmcs, *ref.cohorts) {
  SMETSMON_CHECK(config.workers >= 1 && config.workers <= kVirtualShards);
  workers_.resize(config.workers);
  // Each worker's tables (hundreds of MiB: the duplicate filter, the presized device table) are
  // faulted in when built, which is kernel page clearing: built side by side, a start with
  // several workers takes the time of one on as many cores.
  std::vector<std::thread> builders;
  for (size_t i = 1; i < config.workers; ++i) {
    builders.emplace_back([this, i] {
      workers_[i] = std::make_unique<Worker>(layout_, config_, i, config_.workers);
    });
  }
  workers_[0] = std::make_unique<Worker>(layout_, config_, 0, config_.workers);
  for (std::thread& t : builders) t.join();
}

EventTime Engine::StreamTime() const {
  EventTime t = EventTime::Min();
  for (const auto& w : workers_) t = std::max(t, w->stream_time());
  return t;
}

std::vector<uint64_t> Engine::View(aggregate::View v, EventTime now) const {
  std::vector<uint64_t> out(layout_.total_cells(), 0);
  for (const auto& w : workers_) w->fleet().SumInto(v, now, out);
  return out;
}

std::vector<uint64_t> Engine::Totals() const {
  std::vector<uint64_t> out(layout_.main_cells(), 0);
  for (const auto& w : workers_) {
    for (size_t i = 0; i < out.size(); ++i) out[i] += w->alerts_total(i);
  }
  return out;
}

CounterTotals Engine::Counters() const {
  CounterTotals t;
  for (const auto& w : workers_) {
    const WorkerCounters& c = w->counters();
    t.accepted += c.accepted.Get();
    t.duplicates += c.duplicates.Get();
    for (int i = 0; i < kRejectReasonCount; ++i) t.rejected[i] += c.rejected[i].Get();
    t.late_1h += w->fleet().late_1h();
    t.late_24h += w->fleet().late_24h();
    t.devices += c.new_devices.Get();
    t.devices_refused += c.devices_refused.Get();
    t.dedup_evictions += w->dedup().evictions();
  }
  t.cell_saturations = window::BucketRing::saturations();
  return t;
}

Readings Engine::WorkerReadings(size_t i, EventTime at, EventTime month_start, uint32_t views) {
  Worker& w = *workers_[i];
  Readings r;
  r.at = at;
  r.month_start = month_start;
  // Only the rows of DMC and cohort ids in use can hold counts: the others are not summed. An id
  // this worker has counted was interned before, so it is below the table's size read now.
  const size_t live_dmcs = 2 + ref_->dmcs->size();
  const std::vector<std::pair<size_t, size_t>> live =
      layout_.LiveRanges(live_dmcs, 2 + ref_->cohorts->size());
  for (aggregate::View v : kAllViews) {
    if ((views & ViewBit(v)) == 0) continue;
    std::vector<uint64_t>& out = r.views[static_cast<int>(v)];
    out.assign(layout_.total_cells(), 0);
    w.fleet().SumInto(v, at, out, /*owner=*/true, live);
  }
  RuleInputs* rules = w.rule_inputs();
  if (rules == nullptr) return r;
  const size_t dc = config_.rule_inputs->delivery_cells();
  const size_t wc = config_.rule_inputs->whatif_cells();
  r.delivery_1h.assign(dc, 0);
  r.delivery_24h.assign(dc, 0);
  r.delivery_month.assign(dc, 0);
  r.whatif_1h.assign(wc, 0);
  r.whatif_24h.assign(wc, 0);
  rules->SumDelivery(WindowSpan::k1h, at, r.delivery_1h);
  rules->SumDelivery(WindowSpan::k24h, at, r.delivery_24h);
  rules->SumDeliveryHours(month_start, at, r.delivery_month);
  rules->SumWhatIf(WindowSpan::k1h, at, r.whatif_1h, live_dmcs);
  rules->SumWhatIf(WindowSpan::k24h, at, r.whatif_24h, live_dmcs);
  r.migration_24h.assign(config_.rule_inputs->migration.cells(), 0);
  rules->migration().SumOwned(at, r.migration_24h, live_dmcs, 2 + ref_->cohorts->size());
  w.PublishRuleInputs();
  r.noisy = rules->PublishedNoisy();
  r.noisy_dropped = rules->noisy_dropped();
  r.noisy_codes_untracked = rules->codes_untracked();
  rules->DrainSignals([&r](const OutageSignalRecord& s) { r.signals.push_back(s); });
  r.signals_dropped = rules->signals_dropped();
  return r;
}

void Engine::MergeReadings(Readings& into, Readings&& part) {
  if (into.at == EventTime::Min()) {
    into = std::move(part);
    return;
  }
  const auto add = [](std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
    if (a.size() < b.size()) a.resize(b.size(), 0);
    for (size_t i = 0; i < b.size(); ++i) a[i] += b[i];
  };
  for (size_t v = 0; v < std::size(kAllViews); ++v) add(into.views[v], part.views[v]);
  add(into.delivery_1h, part.delivery_1h);
  add(into.delivery_24h, part.delivery_24h);
  add(into.delivery_month, part.delivery_month);
  add(into.whatif_1h, part.whatif_1h);
  add(into.whatif_24h, part.whatif_24h);
  add(into.migration_24h, part.migration_24h);
  into.noisy.insert(into.noisy.end(), part.noisy.begin(), part.noisy.end());
  into.noisy_dropped += part.noisy_dropped;
  into.noisy_codes_untracked += part.noisy_codes_untracked;
  into.signals.insert(into.signals.end(), part.signals.begin(), part.signals.end());
  into.signals_dropped += part.signals_dropped;
}

void Engine::FinishReadings(Readings& r) {
  std::sort(r.noisy.begin(), r.noisy.end(), [](const NoisyDevice& a, const NoisyDevice& b) {
    return a.alerts_24h != b.alerts_24h ? a.alerts_24h > b.alerts_24h : a.device < b.device;
  });
  std::sort(r.signals.begin(), r.signals.end(),
            [](const OutageSignalRecord& a, const OutageSignalRecord& b) {
              return std::tie(a.time_ms, a.premises, a.device, a.kind) <
                     std::tie(b.time_ms, b.premises, b.device, b.kind);
            });
}

Readings Engine::Read(EventTime at, EventTime month_start, uint32_t views) {
  Readings r;
  for (size_t i = 0; i < workers_.size(); ++i) {
    MergeReadings(r, WorkerReadings(i, at, month_start, views));
  }
  FinishReadings(r);
  return r;
}

const DeviceState* Engine::FindDevice(DeviceId id) const {
  return workers_[WorkerIndexFor(id)]->devices().Find(id.value);
}

void Engine::SaveState(BinaryWriter& w) const {
  w.Pod(ShapeOf(layout_, config_, *workers_[0]));
  const catalog::AlertCatalogue& catalogue = layout_.catalogue();
  w.Pod<uint64_t>(catalogue.slot_count());
  for (size_t slot = 0; slot < catalogue.slot_count(); ++slot) {
    const catalog::AlertInfo* info = catalogue.InfoOfSlot(static_cast<catalog::CodeSlot>(slot));
    w.Pod<uint32_t>(info != nullptr ? info->code.value : kOtherSlotCode);
  }
  w.Pod<uint64_t>(catalogue.categories().size());
  for (const std::string& name : catalogue.categories()) w.String(name);
  WriteSymbols(w, *ref_->dmcs);
  WriteSymbols(w, *ref_->cohorts);
  for (const auto& worker : workers_) {
    w.Pod(worker->stream_time().ms);
    const WorkerCounters& c = worker->counters();
    w.Pod(c.accepted.Get());
    w.Pod(c.duplicates.Get());
    w.Pod(c.new_devices.Get());
    for (const Counter& r : c.rejected) w.Pod(r.Get());
    for (size_t i = 0; i < layout_.main_cells(); ++i) w.Pod(worker->alerts_total(i));
    // Version 5: the duplicate filter and the devices go by virtual shard, after the workers.
    WriteRing(w, const_cast<Worker&>(*worker).mutable_fleet().minutes());
    WriteRing(w, const_cast<Worker&>(*worker).mutable_fleet().hours());
    // Rule inputs (version 6): one length-prefixed part (RuleInputs::SaveState), empty when
    // the rules are off, so that its layout can grow without moving anything else.
    BinaryWriter part = BinaryWriter::ToMemory();
    if (const RuleInputs* rules = worker->rule_inputs()) rules->SaveState(part);
    const std::string bytes = part.TakeBytes();
    w.Pod<uint64_t>(bytes.size());
    w.Bytes(bytes.data(), bytes.size());
  }
  WriteShards(w);
}

void Engine::WriteShards(BinaryWriter& w) const {
  // Each worker's device slots grouped by virtual shard (an index, not a copy of the entries).
  const size_t n = workers_.size();
  std::vector<std::vector<std::vector<uint32_t>>> slots(n);
  for (size_t i = 0; i < n; ++i) {
    slots[i].resize(kVirtualShards);
    workers_[i]->devices().ForEachSlot([&](size_t slot, uint64_t key) {
      slots[i][VirtualShardOf(DeviceId{key})].push_back(static_cast<uint32_t>(slot));
    });
  }
  w.Pod<uint32_t>(kVirtualShards);
  for (size_t shard = 0; shard < kVirtualShards; ++shard) {
    const Worker& owner = *workers_[shard % n];
    const std::vector<uint64_t> dedup = owner.dedup().ExportSegmentUsed(shard / n);
    const std::vector<uint32_t>& devices = slots[shard % n][shard];
    // Length first: a reader skips to the shard it wants without decoding the others.
    const uint64_t length = sizeof(uint32_t) + sizeof(uint64_t) * 2 + dedup.size() * 8 +
                            devices.size() * (sizeof(uint64_t) + sizeof(DeviceState));
    w.Pod(length);
    w.Pod<uint32_t>(static_cast<uint32_t>(shard));
    w.Vector(dedup);
    w.Pod<uint64_t>(devices.size());
    // A shard's entries are spread over the whole table: fetch them some way ahead.
    constexpr size_t kAhead = 16;
    for (size_t k = 0; k < devices.size(); ++k) {
      if (k + kAhead < devices.size()) owner.devices().PrefetchSlot(devices[k + kAhead]);
      w.Pod(owner.devices().KeyAt(devices[k]));
      w.Pod(owner.devices().ValueAt(devices[k]));
    }
  }
}

absl::Status Engine::ReadShards(BinaryReader& r, const std::string& path) {
  const auto shards = r.Pod<uint32_t>();
  if (!r.ok() || shards != kVirtualShards) {
    return absl::DataLossError(absl::StrCat(path, ": malformed shard sections"));
  }
  const size_t n = workers_.size();
  for (uint32_t i = 0; i < shards; ++i) {
    const auto length = r.Pod<uint64_t>();
    const auto shard = r.Pod<uint32_t>();
    if (!r.ok() || shard != i || length > r.remaining() + sizeof(uint32_t)) {
      return absl::DataLossError(absl::StrCat(path, ": malformed shard section ", i));
    }
    Worker& owner = *workers_[shard % n];
    const std::vector<uint64_t> dedup = r.Vector<uint64_t>(owner.dedup().segment_ways() * 3);
    if (!r.ok() || !owner.mutable_dedup().ImportSegmentUsed(shard / n, dedup)) {
      return absl::DataLossError(absl::StrCat(path, ": malformed duplicate filter of shard ", i));
    }
    const auto devices = r.Pod<uint64_t>();
    if (!r.ok() || devices > r.remaining() / (sizeof(uint64_t) + sizeof(DeviceState))) {
      return absl::DataLossError(absl::StrCat(path, ": malformed devices of shard ", i));
    }
    // In groups, their table slots fetched before the inserts: a shard's devices land all over
    // the table, and one cache miss (and TLB miss) per insert in turn would dominate a restore.
    constexpr size_t kGroup = 32;
    uint64_t keys[kGroup];
    DeviceState states[kGroup];
    FlatU64Map<DeviceState>& table = owner.mutable_devices();
    for (uint64_t d = 0; d < devices && r.ok(); d += kGroup) {
      const size_t g = static_cast<size_t>(std::min<uint64_t>(kGroup, devices - d));
      for (size_t k = 0; k < g; ++k) {
        keys[k] = r.Pod<uint64_t>();
        states[k] = r.Pod<DeviceState>();
        if (!r.ok() || keys[k] == kBroadcastEui64 || VirtualShardOf(DeviceId{keys[k]}) != shard) {
          return absl::DataLossError(absl::StrCat(path, ": malformed device in shard ", i));
        }
        table.Prefetch(keys[k]);
      }
      for (size_t k = 0; k < g; ++k) {
        bool inserted = false;
        table.FindOrInsert(keys[k], &inserted) = states[k];
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::LoadState(BinaryReader& r, uint32_t version, const std::string& path) {
  SMETSMON_CHECK(version >= kOldestStateVersion && version <= kStateVersion);
  auto shape = r.Pod<SnapshotShape>();
  if (version < 4) shape.dedup_capacity = workers_[0]->dedup().capacity();
  const std::vector<uint32_t> slot_codes = r.Vector<uint32_t>(size_t{1} << 16);
  std::vector<std::string> categories;
  const auto category_count = r.Pod<uint64_t>();
  for (uint64_t i = 0; i < category_count && i < 256 && r.ok(); ++i) {
    categories.push_back(r.String(256));
  }
  if (!r.ok() || categories.size() != category_count || slot_codes.empty() || categories.empty()) {
    return absl::DataLossError(absl::StrCat(path, ": truncated or malformed snapshot"));
  }
  // From version 6 every part of a checkpoint can be restored by another number of workers: the
  // per-worker windows and counters are partials that add up, the devices, duplicate filter
  // segments and code tallies go by virtual shard. The filter must then have the same segments.
  const SnapshotShape mine = ShapeOf(layout_, config_, *workers_[0]);
  const size_t saved_workers = shape.workers;
  const bool regroup = version >= 6 && saved_workers != workers_.size() && saved_workers >= 1 &&
                       saved_workers <= kVirtualShards;
  SnapshotShape compared = shape;
  if (regroup) {
    // The saved worker 0 held ShardsOwnedBy(0, saved_workers) segments of the filter.
    const bool same_segments = shape.dedup_capacity / ShardsOwnedBy(0, saved_workers) ==
                               workers_[0]->dedup().segment_ways();
    compared.workers = mine.workers;
    compared.dedup_capacity = same_segments ? mine.dedup_capacity : 0;
  }
  if (!(compared == mine)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": snapshot was taken with a different configuration (workers ",
                     shape.workers, ", areas ", shape.area_slots, ", dedup capacity ",
                     shape.dedup_capacity, "); start without it or restore the old config"));
  }
  const CellRemap remap(layout_, slot_codes, categories);
  if (!remap.identity()) {
    Log(LogLevel::kWarn, "snapshot taken under another alert catalogue: windows remapped",
        {{"path", path},
         {"codes_now_other", std::to_string(remap.dropped_codes())},
         {"slots", absl::StrCat(slot_codes.size(), "->", layout_.code_slots())}});
  }
  SMETSMON_RETURN_IF_ERROR(ReadSymbols(r, *ref_->dmcs, path));
  SMETSMON_RETURN_IF_ERROR(ReadSymbols(r, *ref_->cohorts, path));
  for (auto& worker : workers_) worker->mutable_devices().Clear();
  if (regroup) {
    Log(LogLevel::kInfo, "checkpoint taken with another number of workers: regrouped",
        {{"path", path}, {"workers", absl::StrCat(saved_workers, "->", workers_.size())}});
  }
  // Regrouping: every saved worker's partials are added into worker 0, the stream time is the
  // latest, and the other workers start from it with empty partials.
  int64_t latest_stream_ms = EventTime::Min().ms;
  int64_t latest_sweep = 0;
  const size_t parts = regroup ? saved_workers : workers_.size();
  for (size_t k = 0; k < parts; ++k) {
    Worker* worker = workers_[regroup ? 0 : k].get();
    const int64_t stream_ms = r.Pod<int64_t>();
    latest_stream_ms = std::max(latest_stream_ms, stream_ms);
    if (!regroup) worker->RestoreStreamTime(EventTime{stream_ms});
    WorkerCounters& c = worker->mutable_counters();
    const auto restore = [&c, regroup](Counter& counter, uint64_t value) {
      counter.Set(regroup ? counter.Get() + value : value);
    };
    restore(c.accepted, r.Pod<uint64_t>());
    restore(c.duplicates, r.Pod<uint64_t>());
    restore(c.new_devices, r.Pod<uint64_t>());
    // Version 3 knew 13 reject reasons (ambiguous_field came with 4).
    const int reasons = version >= 4 ? kRejectReasonCount : 13;
    for (int i = 0; i < kRejectReasonCount; ++i)
      restore(c.rejected[i], i < reasons ? r.Pod<uint64_t>() : 0);
    if (!regroup || k == 0) {
      for (size_t i = 0; i < layout_.main_cells(); ++i) worker->mutable_alerts_total(i).Set(0);
    }
    for (size_t i = 0; i < remap.old_main_cells(); ++i) {
      Counter& total = worker->mutable_alerts_total(remap.Map(i));
      total.Set(total.Get() + r.Pod<uint64_t>());
    }
    if (version >= 5) {  // the duplicate filter and the devices come by shard, below
      for (window::BucketRing* ring :
           {&worker->mutable_fleet().minutes(), &worker->mutable_fleet().hours()}) {
        // Regrouping reads each part over worker 0's ring, then adds back what it held.
        const window::BucketRing::Raw before = ring->Export();
        if (!ReadFleetRing(r, *ring, remap)) {
          return absl::DataLossError(absl::StrCat(path, ": truncated or malformed checkpoint"));
        }
        if (regroup && k > 0) {
          window::BucketRing::Raw merged = ring->Export();
          SMETSMON_CHECK(window::BucketRing::MergeRaw(merged, before));
          ring->Import(merged);
        }
      }
    } else {
      const std::vector<uint64_t> dedup = r.Vector<uint64_t>(
          version >= 4 ? worker->dedup().capacity() * 2 : config_.dedup_capacity * 2 + 64);
      if ((version >= 4 && !worker->mutable_dedup().Import(dedup)) ||
          !ReadFleetRing(r, worker->mutable_fleet().minutes(), remap) ||
          !ReadFleetRing(r, worker->mutable_fleet().hours(), remap)) {
        return absl::DataLossError(absl::StrCat(path, ": truncated or malformed snapshot"));
      }
      const auto devices = r.Pod<uint64_t>();
      if (!r.ok()) break;
      // Each device goes to the worker that owns it now (an older snapshot may shard otherwise).
      if (workers_.size() == 1) worker->mutable_devices().Reserve(devices);
      for (uint64_t i = 0; i < devices && r.ok(); ++i) {
        const auto key = r.Pod<uint64_t>();
        const auto state = r.Pod<DeviceState>();
        if (!r.ok() || key == kBroadcastEui64) break;
        bool inserted = false;
        workers_[WorkerIndexFor(DeviceId{key})]->mutable_devices().FindOrInsert(key, &inserted) =
            state;
      }
    }
    // Rule inputs. Taken under other rules (a changed rules.yaml) they no longer fit: the
    // windows that do not match start empty rather than refusing the restart; a part taken
    // without rules (empty) leaves them fresh.
    RuleInputs* rules = worker->rule_inputs();
    absl::Status rules_status;
    if (version >= 6) {
      const auto length = r.Pod<uint64_t>();
      if (!r.ok() || length > r.remaining()) {
        r.Fail();
        break;
      }
      std::string bytes(length, '\0');
      r.Bytes(bytes.data(), bytes.size());
      if (rules != nullptr && r.ok() && length > 0 && !regroup) {
        BinaryReader part = BinaryReader::FromMemory(bytes);
        rules_status = rules->LoadState(part, version);
      } else if (rules != nullptr && r.ok() && length > 0) {
        // The part restored on its own, then added to worker 0's, its devices to their owners.
        RuleInputs saved(*config_.rule_inputs);
        BinaryReader part = BinaryReader::FromMemory(bytes);
        rules_status = saved.LoadState(part, version);
        if (rules_status.ok()) {
          latest_sweep = std::max(latest_sweep, saved.swept_hour());
          rules->Absorb(saved, [this](uint64_t device) -> RuleInputs& {
            return *workers_[WorkerIndexFor(DeviceId{device})]->rule_inputs();
          });
        }
      }
    } else {
      rules_status =
          rules != nullptr ? rules->LoadState(r, version) : RuleInputs::SkipLegacyState(r, version);
    }
    if (!rules_status.ok()) {
      return absl::DataLossError(absl::StrCat(path, ": ", rules_status.message()));
    }
  }
  if (!r.ok())
    return absl::DataLossError(absl::StrCat(path, ": truncated or malformed checkpoint"));
  if (regroup) {
    for (auto& worker : workers_) {
      worker->AdvanceTo(EventTime{latest_stream_ms});
      if (RuleInputs* rules = worker->rule_inputs()) rules->RestoreSweptHour(latest_sweep);
    }
  }
  if (version >= 5) SMETSMON_RETURN_IF_ERROR(ReadShards(r, path));
  return absl::OkStatus();
}

}  // namespace smetsmon::aggregate
