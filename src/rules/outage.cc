#include "rules/outage.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rules/format.h"
#include "rules/state_io.h"
#include "smetsmon/status.h"

namespace smetsmon::rules {

using state_io::GetBool;
using state_io::GetCount;
using state_io::GetEnum;
using state_io::GetTimeMs;
using state_io::kMaxFingerprint;
using state_io::kMaxText;
using state_io::PutBool;
using state_io::PutCount;
using state_io::PutEnum;

namespace {

// Bounds on the counts of a state, beyond anything a valid configuration produces (areas and
// regions are one byte; lists and premises are capped by max_premises, at most a few million).
constexpr uint64_t kMaxStateAreas = 256;
constexpr uint64_t kMaxStateList = uint64_t{1} << 28;

// A fraction as a percentage with two significant digits below 10 %: "95", "2.5", "0.0065".
std::string FormatPercent(double fraction) {
  const double p = fraction * 100;
  char buf[32];
  if (!std::isfinite(p)) return "?";
  if (p >= 10 || p <= 0) {
    std::snprintf(buf, sizeof buf, "%.0f", p);
  } else if (p >= 1) {
    std::snprintf(buf, sizeof buf, "%.1f", p);
  } else {
    const int decimals = std::min(8, static_cast<int>(std::ceil(-std::log10(p))) + 1);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, p);
  }
  return buf;
}

// "3 minutes", "1 minute", "48 hours", "90 seconds".
std::string FormatDuration(int64_t ms) {
  auto plural = [](int64_t n, const char* unit) {
    return absl::StrCat(n, " ", unit, n == 1 ? "" : "s");
  };
  if (ms >= kMsPerHour && ms % kMsPerHour == 0) return plural(ms / kMsPerHour, "hour");
  if (ms >= kMsPerMinute && ms % kMsPerMinute == 0) return plural(ms / kMsPerMinute, "minute");
  return plural(ms / kMsPerSecond, "second");
}

int64_t LastActivity(bool has_start, int64_t start_ms, bool restored, int64_t restore_ms) {
  int64_t t = EventTime::Min().ms;
  if (has_start) t = std::max(t, start_ms);
  if (restored) t = std::max(t, restore_ms);
  return t;
}

}  // namespace

absl::Status OutageConfig::Validate() const {
  auto bad = [](const char* field, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat("outage.", field, " ", rule));
  };
  if (window_ms <= 0) return bad("window_ms", "must be > 0");
  if (min_premises == 0) return bad("min_premises", "must be >= 1");
  if (!(min_share >= 0 && min_share <= 1)) return bad("min_share", "must be in [0, 1]");
  if (!(close_restored_share > 0 && close_restored_share <= 1)) {
    return bad("close_restored_share", "must be in (0, 1]");
  }
  if (close_quiet_ms <= 0) return bad("close_quiet_ms", "must be > 0");
  if (long_interruption_ms < 0) return bad("long_interruption_ms", "must be >= 0");
  if (comms_min_restorations == 0) return bad("comms_min_restorations", "must be >= 1");
  if (!(comms_max_matched_share >= 0 && comms_max_matched_share <= 1)) {
    return bad("comms_max_matched_share", "must be in [0, 1]");
  }
  if (max_outage_age_ms <= 0) return bad("max_outage_age_ms", "must be > 0");
  if (max_premises == 0) return bad("max_premises", "must be > 0");
  if (allowed_lateness_ms < 0) return bad("allowed_lateness_ms", "must be >= 0");
  if (final_tally_after_ms < 0 || final_tally_after_ms > 30 * kMsPerDay) {
    return bad("final_tally_after_ms", "must be in [0, 30 days]");
  }
  return absl::OkStatus();
}

OutageTracker::OutageTracker(OutageConfig c, const catalog::AreaTable& areas,
                             std::vector<uint64_t> installations_per_area)
    : config_(std::move(c)),
      areas_table_(areas),
      installations_(std::move(installations_per_area)),
      areas_(areas.size()),
      regions_(areas.regions().size()),
      latest_ms_(EventTime::Min().ms),
      last_sweep_ms_(EventTime::Min().ms) {
  SMETSMON_CHECK(config_.Validate().ok());
  installations_.resize(areas.size(), 0);
}

AreaId OutageTracker::Known(AreaId a) const {
  return a != kUnknownArea && a.value < areas_.size() ? a : kUnknownArea;
}

OutageTracker::AreaStatus OutageTracker::Status(AreaId a) const {
  AreaStatus out;
  if (Known(a) == kUnknownArea) return out;
  const AreaState& s = areas_[a.value];
  out.open_outage_premises = s.open_premises;
  out.outage_open = s.outage.open;
  out.affected = s.outage.affected;
  out.restored = s.outage.restored;
  out.long_interruptions = s.outage.long_interruptions;
  return out;
}

size_t OutageTracker::counting_outages() const {
  size_t n = 0;
  for (const AreaState& a : areas_) {
    n += !a.outage.open && a.outage.counting;
    for (const AreaOutage& o : a.earlier) n += o.counting;
  }
  return n;
}

OutageTracker::AreaOutage* OutageTracker::CountingOutage(const Premises& p) {
  if (p.outage == 0 || p.area == kUnknownArea) return nullptr;
  AreaState& a = areas_[p.area.value];
  if (a.outage.serial == p.outage) {
    return a.outage.open || a.outage.counting ? &a.outage : nullptr;
  }
  for (AreaOutage& o : a.earlier) {
    if (o.serial == p.outage) return o.counting ? &o : nullptr;
  }
  return nullptr;
}

// ---- Signals -------------------------------------------------------------------------------

void OutageTracker::Add(const OutageSignal& s) {
  if (latest_ms_ > EventTime::Min().ms && s.time.ms < latest_ms_ - config_.max_outage_age_ms) {
    ++dropped_signals_;
    return;
  }
  latest_ms_ = std::max(latest_ms_, s.time.ms);
  if (s.kind == OutageSignal::Kind::kStart) {
    AddStart(s);
  } else {
    AddRestoration(s);
  }
}

OutageTracker::Premises& OutageTracker::Insert(uint64_t key) {
  if (premises_.size() >= config_.max_premises) {
    ExpireOld(latest_ms_);
    if (premises_.size() >= config_.max_premises) EvictOldest();
  }
  return premises_[key];
}

void OutageTracker::Forget(const Premises& p) {
  if (p.has_start && !p.restored && p.area != kUnknownArea) --areas_[p.area.value].open_premises;
}

void OutageTracker::ExpireOld(int64_t now_ms) {
  const int64_t cutoff = now_ms - config_.max_outage_age_ms;
  absl::erase_if(premises_, [&](const auto& kv) {
    const Premises& p = kv.second;
    if (LastActivity(p.has_start, p.start_ms, p.restored, p.restore_ms) >= cutoff) return false;
    // Held for the tally of its closed outage: its restoration may still come.
    if (!p.restored && CountingOutage(p) != nullptr) return false;
    Forget(p);
    ++expired_;
    return true;
  });
}

// Evicts the oldest eighth of the premises (at least one), by their last signal.
void OutageTracker::EvictOldest() {
  const size_t k = std::max<size_t>(1, premises_.size() / 8);
  std::vector<int64_t> times;
  times.reserve(premises_.size());
  for (const auto& [key, p] : premises_) {
    times.push_back(LastActivity(p.has_start, p.start_ms, p.restored, p.restore_ms));
  }
  std::nth_element(times.begin(), times.begin() + static_cast<ptrdiff_t>(k - 1), times.end());
  const int64_t cutoff = times[k - 1];
  size_t removed = 0;
  absl::erase_if(premises_, [&](const auto& kv) {
    const Premises& p = kv.second;
    if (removed >= k || LastActivity(p.has_start, p.start_ms, p.restored, p.restore_ms) > cutoff) {
      return false;
    }
    if (!p.restored && p.outage != 0 && CountingOutage(p) != nullptr) ++tally_premises_evicted_;
    Forget(p);
    ++removed;
    return true;
  });
  evicted_ += removed;
}

void OutageTracker::AddStart(const OutageSignal& s) {
  const AreaId area = Known(s.area);
  if (area == kUnknownArea) ++unknown_area_signals_;
  auto it = premises_.find(s.premises);
  if (it == premises_.end()) {
    Premises& p = Insert(s.premises);
    p.area = area;
    p.has_start = true;
    p.start_ms = s.time.ms;
    OnNewStart(s.premises, p);
    return;
  }
  Premises& p = it->second;
  if (p.has_start && !p.restored) {
    // Another AD1 for an outage still open (a redelivery): keep the earliest start.
    p.start_ms = std::min(p.start_ms, s.time.ms);
    return;
  }
  if (p.has_start && p.restored && s.time.ms <= p.restore_ms) return;  // late, episode finished
  if (!p.has_start && p.restored && s.time.ms <= p.restore_ms &&
      p.restore_ms - s.time.ms <= config_.max_outage_age_ms) {
    // The restoration was delivered first: this AD1 starts its episode, late.
    p.has_start = true;
    p.start_ms = s.time.ms;
    if (p.area == kUnknownArea) p.area = area;
    p.long_interruption =
        p.long_interruption || p.restore_ms - p.start_ms >= config_.long_interruption_ms;
    OnNewStart(s.premises, p);
    return;
  }
  // A new episode for this premises.
  Forget(p);
  p = Premises{};
  p.area = area;
  p.has_start = true;
  p.start_ms = s.time.ms;
  OnNewStart(s.premises, p);
}

void OutageTracker::OnNewStart(uint64_t key, Premises& p) {
  if (p.area == kUnknownArea) return;
  AreaState& a = areas_[p.area.value];
  if (!p.restored) ++a.open_premises;
  if (a.outage.open) {
    if (p.start_ms >= a.outage.start_ms) Attach(p, a.outage);
    return;
  }
  // A late AD1 of a closed outage still counting: one more premises it affected.
  const auto contains = [&](const AreaOutage& o) {
    return o.counting && p.start_ms >= o.start_ms && p.start_ms <= o.end_ms;
  };
  if (a.outage.serial != 0 && contains(a.outage)) {
    Attach(p, a.outage);
    return;
  }
  for (AreaOutage& o : a.earlier) {
    if (contains(o)) {
      Attach(p, o);
      return;
    }
  }
  if (a.outage.serial != 0 && p.start_ms <= a.outage.end_ms) return;  // the closed outage's
  if (a.starts.size() >= config_.max_premises) {
    ++dropped_signals_;
    return;
  }
  if (!a.starts.empty() && p.start_ms < a.starts.back().ms) a.starts_sorted = false;
  a.starts.push_back({p.start_ms, key});
}

void OutageTracker::Attach(Premises& p, AreaOutage& o) const {
  p.outage = o.serial;
  ++o.affected;
  o.last_start_ms = std::max(o.last_start_ms, p.start_ms);
  if (p.restored && Counts(o, p.restore_ms)) {
    ++o.restored;
    if (p.long_interruption) ++o.long_interruptions;
    o.last_restore_ms = std::max(o.last_restore_ms, p.restore_ms);
  }
}

void OutageTracker::AddRestoration(const OutageSignal& s) {
  const bool long_code = s.kind == OutageSignal::Kind::kRestoredLong;
  AreaId area = Known(s.area);
  auto it = premises_.find(s.premises);
  if (area == kUnknownArea && it != premises_.end()) area = it->second.area;
  const RegionId region = areas_table_.RegionOf(area);
  if (area == kUnknownArea || region.value >= regions_.size()) {
    ++unknown_area_signals_;
  } else {
    auto& list = regions_[region.value].restorations;
    if (list.size() >= config_.max_premises) {
      ++dropped_signals_;
    } else {
      list.push_back({s.time.ms, s.premises, area});
    }
  }

  if (it == premises_.end()) {
    // No outage known for the premises (yet: its AD1 may come late).
    Premises& p = Insert(s.premises);
    p.area = area;
    p.restored = true;
    p.restore_ms = s.time.ms;
    p.long_interruption = long_code;
    return;
  }
  Premises& p = it->second;
  // Open, or closed and still counting its final tally.
  AreaOutage* o = CountingOutage(p);
  if (p.has_start && !p.restored) {
    // Before its start it belongs to an earlier episode whose AD1 never came: unmatched.
    if (s.time.ms < p.start_ms) return;
    p.restored = true;
    p.restore_ms = s.time.ms;
    p.long_interruption = long_code || s.time.ms - p.start_ms >= config_.long_interruption_ms;
    if (p.area != kUnknownArea) --areas_[p.area.value].open_premises;
    if (o != nullptr && Counts(*o, p.restore_ms)) {
      ++o->restored;
      if (p.long_interruption) ++o->long_interruptions;
      o->last_restore_ms = std::max(o->last_restore_ms, p.restore_ms);
    }
    return;
  }
  if (p.restored && s.time.ms + config_.window_ms >= p.restore_ms &&
      s.time.ms <= p.restore_ms + config_.window_ms) {
    // Another meter of the premises, or a redelivery: the same restoration. 8F36 after 8F35
    // still marks it long.
    if (long_code && !p.long_interruption) {
      p.long_interruption = true;
      if (o != nullptr && Counts(*o, p.restore_ms)) ++o->long_interruptions;
    }
    return;
  }
  if (p.restored && s.time.ms < p.restore_ms) return;  // an older episode's, long gone
  // A new restoration without a known start.
  Forget(p);
  p = Premises{};
  p.area = area;
  p.restored = true;
  p.restore_ms = s.time.ms;
  p.long_interruption = long_code;
}

// ---- Evaluation ----------------------------------------------------------------------------

void OutageTracker::Evaluate(EventTime now, FindingBook& book) {
  latest_ms_ = std::max(latest_ms_, now.ms);
  const int64_t sweep_every = std::max(kMsPerMinute, config_.max_outage_age_ms / 48);
  if (now.ms - last_sweep_ms_ >= sweep_every) {
    ExpireOld(now.ms);
    last_sweep_ms_ = now.ms;
  }
  for (size_t i = 0; i < areas_.size(); ++i) {
    EvaluateArea(i, now, book);
    EvaluateTallies(i, now, book);
  }
  for (size_t r = 0; r < regions_.size(); ++r) EvaluateRegion(r, now, book);
}

void OutageTracker::EvaluateArea(size_t i, EventTime now, FindingBook& book) {
  AreaState& a = areas_[i];
  if (!a.outage.open) {
    auto& v = a.starts;
    if (!a.starts_sorted) {
      std::sort(v.begin(), v.end(), [](const Stamp& x, const Stamp& y) { return x.ms < y.ms; });
      a.starts_sorted = true;
    }
    int64_t keep_from = now.ms - config_.window_ms - config_.allowed_lateness_ms;
    if (a.outage.serial != 0) keep_from = std::max(keep_from, a.outage.end_ms + 1);
    v.erase(v.begin(), std::lower_bound(v.begin(), v.end(), keep_from,
                                        [](const Stamp& x, int64_t t) { return x.ms < t; }));
    // The densest window_ms of starts (the earliest one on ties).
    size_t best = 0, best_first = 0;
    for (size_t first = 0, last = 0; last < v.size(); ++last) {
      while (v[last].ms - v[first].ms >= config_.window_ms) ++first;
      if (last - first + 1 > best) {
        best = last - first + 1;
        best_first = first;
      }
    }
    const uint64_t installed = installations_[i];
    const bool share_ok = installed == 0 || static_cast<double>(best) >=
                                                config_.min_share * static_cast<double>(installed);
    if (best >= config_.min_premises && share_ok) OpenAreaOutage(i, v[best_first].ms);
  }
  if (!a.outage.open) return;

  AreaOutage& o = a.outage;
  CloseReason reason = CloseReason::kNone;
  const int64_t last_activity = std::max(o.last_start_ms, o.last_restore_ms);
  if (o.affected > 0 && static_cast<double>(o.restored) + 1e-9 >=
                            config_.close_restored_share * static_cast<double>(o.affected)) {
    reason = CloseReason::kRestored;
    o.end_ms = std::max(o.start_ms, o.last_restore_ms);
  } else if (o.restored > 0 && now.ms - last_activity >= config_.close_quiet_ms) {
    reason = CloseReason::kQuiet;
    o.end_ms = std::max(o.start_ms, last_activity);
  } else if (now.ms - o.start_ms >= config_.max_outage_age_ms) {
    reason = CloseReason::kAge;
    o.end_ms = now.ms;
  }
  if (reason != CloseReason::kNone) {
    o.open = false;
    o.reason = reason;
    o.affected_at_close = o.affected;
    o.restored_at_close = o.restored;
    o.long_at_close = o.long_interruptions;
    o.has_tally = config_.final_tally_after_ms > 0;
    o.counting = o.has_tally;
    o.tally_until_ms = o.end_ms + config_.final_tally_after_ms;
  }
  book.Upsert(AreaOutageFinding(i, o, now));
  if (reason != CloseReason::kNone) book.Close(o.id, {o.end_ms});
}

void OutageTracker::EvaluateTallies(size_t i, EventTime now, FindingBook& book) {
  AreaState& a = areas_[i];
  const auto step = [&](AreaOutage& o) {
    if (now.ms >= o.tally_until_ms) o.counting = false;
    // Gone from the history only when it holds more than its capacity of counting findings.
    (void)book.UpdateClosed(AreaOutageFinding(i, o, now));
  };
  if (!a.outage.open && a.outage.counting) step(a.outage);
  for (AreaOutage& o : a.earlier) step(o);
  a.earlier.erase(std::remove_if(a.earlier.begin(), a.earlier.end(),
                                 [](const AreaOutage& o) { return !o.counting; }),
                  a.earlier.end());
}

void OutageTracker::OpenAreaOutage(size_t i, int64_t start_ms) {
  AreaState& a = areas_[i];
  if (a.outage.counting) {
    // The previous outage goes on counting its own premises' restorations.
    a.earlier.push_back(std::move(a.outage));
    if (a.earlier.size() > kMaxCountingPerArea) {
      a.earlier.front().counting = false;  // published final, and dropped, by EvaluateTallies
      ++tallies_cut_short_;
    }
  }
  a.outage = AreaOutage{};
  AreaOutage& o = a.outage;
  o.serial = next_serial_++;
  if (next_serial_ == 0) next_serial_ = 1;
  o.open = true;
  o.start_ms = start_ms;
  o.last_start_ms = start_ms;
  o.last_restore_ms = start_ms;
  o.id = absl::StrCat("power_outage:area=", areas_table_.area(AreaId{static_cast<uint8_t>(i)}).name,
                      ":", start_ms);
  for (const Stamp& st : a.starts) {
    if (st.ms < start_ms) continue;
    auto it = premises_.find(st.premises);
    if (it == premises_.end()) continue;  // evicted since
    Premises& p = it->second;
    if (p.has_start && p.outage == 0 && p.area.value == i && p.start_ms >= start_ms) {
      Attach(p, a.outage);
    }
  }
  a.starts.clear();
  a.starts_sorted = true;
}

Finding OutageTracker::AreaOutageFinding(size_t i, const AreaOutage& o, EventTime now) const {
  const AreaId id{static_cast<uint8_t>(i)};
  const catalog::Area& area = areas_table_.area(id);
  const CloseReason reason = o.open ? CloseReason::kNone : o.reason;
  const uint64_t installed = installations_[i];
  const uint64_t unrestored = o.affected - std::min(o.affected, o.restored);
  // What the close reason describes: the figures when it closed.
  const uint64_t unrestored_at_close =
      o.affected_at_close - std::min(o.affected_at_close, o.restored_at_close);
  const double restored_share =
      o.affected ? static_cast<double>(o.restored) / static_cast<double>(o.affected) : 0.0;
  const int64_t end = reason == CloseReason::kNone ? std::max(now.ms, o.start_ms) : o.end_ms;

  Finding f;
  f.id = o.id;
  f.kind = FindingKind::kPowerOutage;
  f.severity = Severity::kCritical;
  f.area = id;
  f.region = areas_table_.RegionLabel(area.region);
  f.scope = absl::StrCat("area=", area.name);
  f.start = {o.start_ms};
  f.explanation = absl::StrCat("Power outage in ", area.name);
  if (!area.dno_group.empty()) absl::StrAppend(&f.explanation, " (", area.dno_group, ")");
  absl::StrAppend(&f.explanation, ": ", FormatCount(o.affected), " premises");
  if (installed > 0) {
    absl::StrAppend(&f.explanation, " (",
                    FormatPercent(static_cast<double>(o.affected) / static_cast<double>(installed)),
                    " % of installations)");
  }
  absl::StrAppend(&f.explanation, " lost supply from ", FormatUtcClock(o.start_ms, now), " UTC; ");
  if (o.restored == 0) {
    absl::StrAppend(&f.explanation, "none restored yet");
  } else {
    absl::StrAppend(&f.explanation, FormatCount(o.restored), " restored (",
                    FormatPercent(restored_share), " %), ", FormatCount(o.long_interruptions),
                    " after ", FormatDuration(config_.long_interruption_ms), " or more");
  }
  switch (reason) {
    case CloseReason::kNone:
      break;
    case CloseReason::kRestored:
      absl::StrAppend(&f.explanation, "; over ", FormatPercent(config_.close_restored_share),
                      " % restored by ", FormatUtcClock(o.end_ms, now), " UTC");
      break;
    case CloseReason::kQuiet:
      absl::StrAppend(&f.explanation, "; ", FormatCount(unrestored_at_close),
                      " not reported restored; no outage or restoration alert since ",
                      FormatUtcClock(o.end_ms, now), " UTC (",
                      FormatDuration(config_.close_quiet_ms), ")");
      break;
    case CloseReason::kAge:
      absl::StrAppend(&f.explanation, "; ", FormatCount(unrestored_at_close),
                      " not reported restored after ", FormatDuration(config_.max_outage_age_ms),
                      o.has_tally ? "" : "; no longer tracked");
      break;
  }
  if (reason != CloseReason::kNone && o.has_tally) {
    const uint64_t after_close = o.restored - std::min(o.restored, o.restored_at_close);
    f.tally = o.counting ? Tally::kCounting : Tally::kFinal;
    f.tally_until = EventTime{o.tally_until_ms};
    if (o.counting) {
      absl::StrAppend(&f.explanation, "; ", FormatCount(after_close),
                      " more restored since it closed, counted until ",
                      FormatUtcClock(o.tally_until_ms, now), " UTC");
    } else {
      absl::StrAppend(&f.explanation, "; final tally: ", FormatCount(o.restored), " of ",
                      FormatCount(o.affected), " restored (", FormatPercent(restored_share),
                      " %), ", FormatCount(after_close), " of them after it closed; ",
                      FormatCount(unrestored), " not reported restored by ",
                      FormatUtcClock(std::min(o.tally_until_ms, now.ms), now), " UTC");
    }
  }
  f.figures["affected_premises"] = static_cast<double>(o.affected);
  f.figures["restored_premises"] = static_cast<double>(o.restored);
  f.figures["restored_share"] = restored_share;
  f.figures["long_interruptions"] = static_cast<double>(o.long_interruptions);
  f.figures["unrestored_premises"] = static_cast<double>(unrestored);
  f.figures["duration_ms"] = static_cast<double>(end - o.start_ms);
  if (installed > 0) {
    f.figures["share_of_installations"] =
        static_cast<double>(o.affected) / static_cast<double>(installed);
  }
  if (reason != CloseReason::kNone) {
    f.figures["affected_premises_at_close"] = static_cast<double>(o.affected_at_close);
    f.figures["restored_premises_at_close"] = static_cast<double>(o.restored_at_close);
    f.figures["restored_after_close"] =
        static_cast<double>(o.restored - std::min(o.restored, o.restored_at_close));
  }
  return f;
}

bool OutageTracker::Explained(const Restoration& r) const {
  if (r.area != kUnknownArea) {
    const AreaOutage& o = areas_[r.area.value].outage;
    if (o.serial != 0 && r.ms >= o.start_ms - config_.window_ms &&
        (o.open || r.ms <= o.end_ms + config_.window_ms)) {
      return true;  // inside a power outage of its area
    }
  }
  auto it = premises_.find(r.premises);
  if (it == premises_.end()) return false;
  const Premises& p = it->second;
  return p.has_start && p.start_ms <= r.ms && r.ms - p.start_ms <= config_.max_outage_age_ms &&
         (!p.restored || r.ms <= p.restore_ms + config_.window_ms);
}

void OutageTracker::EvaluateRegion(size_t r, EventTime now, FindingBook& book) {
  RegionState& g = regions_[r];
  const int64_t from = now.ms - config_.window_ms;
  auto& v = g.restorations;
  v.erase(std::remove_if(v.begin(), v.end(), [&](const Restoration& x) { return x.ms <= from; }),
          v.end());
  uint64_t matched = 0, unmatched = 0;
  int64_t first_unmatched = 0;
  for (const Restoration& x : v) {
    if (Explained(x)) {
      ++matched;
    } else {
      if (unmatched == 0 || x.ms < first_unmatched) first_unmatched = x.ms;
      ++unmatched;
    }
  }
  const uint64_t total = matched + unmatched;
  const double matched_share =
      total ? static_cast<double>(matched) / static_cast<double>(total) : 0.0;
  const std::string& name = areas_table_.RegionLabel(RegionId{static_cast<uint8_t>(r)});

  if (!g.open) {
    if (unmatched < config_.comms_min_restorations ||
        matched_share > config_.comms_max_matched_share) {
      return;
    }
    g.open = true;
    g.start_ms = first_unmatched;
    g.peak_unmatched = 0;
    g.id = absl::StrCat("comms_incident:region=", name, ":", first_unmatched);
  }
  g.peak_unmatched = std::max(g.peak_unmatched, unmatched);
  const bool closing =
      static_cast<double>(unmatched) < static_cast<double>(config_.comms_min_restorations) / 2;

  Finding f;
  f.id = g.id;
  f.kind = FindingKind::kCommsIncident;
  f.severity = Severity::kWarning;
  f.region = name;
  f.scope = absl::StrCat("region=", name);
  f.start = {g.start_ms};
  const std::string window = FormatDuration(config_.window_ms);
  if (!closing) {
    f.explanation = absl::StrCat(
        "Communications incident in the ", name,
        " region, not a power cut: ", FormatCount(unmatched),
        " supply-restored alerts in the last ", window, " without a preceding power-outage alert (",
        FormatPercent(matched_share), " % of the region's restorations matched an outage), since ",
        FormatUtcClock(g.start_ms, now), " UTC");
  } else {
    f.explanation =
        absl::StrCat("Communications incident in the ", name, " region, not a power cut: up to ",
                     FormatCount(g.peak_unmatched), " supply-restored alerts per ", window,
                     " without a preceding power-outage alert, from ",
                     FormatUtcClock(g.start_ms, now), " to ", FormatUtcClock(now.ms, now), " UTC");
  }
  absl::StrAppend(&f.explanation,
                  ". Restorations without outage alerts point at the communications network, "
                  "so DNOs are not paged as for a power outage.");
  f.figures["unmatched_restorations"] = static_cast<double>(unmatched);
  f.figures["matched_share"] = matched_share;
  f.figures["restorations"] = static_cast<double>(total);
  f.figures["peak_unmatched_restorations"] = static_cast<double>(g.peak_unmatched);
  book.Upsert(std::move(f));
  if (closing) {
    g.open = false;
    book.Close(g.id, now);
  }
}

// ---- Checkpoint state --------------------------------------------------------------------

// The settings whose change restarts the tracker on a reload (Evaluator::Reload), and the area
// table: premises, starts and restorations name areas by index, outages by area and region.
std::string OutageTracker::Fingerprint() const {
  state_io::Fingerprint f;
  f.Pod<uint32_t>(2)  // the layout: 2 added the final tally (closed outages still counting)
      .Pod(config_.window_ms)
      .Pod(config_.min_premises)
      .Pod(config_.min_share)
      .Pod(config_.close_restored_share)
      .Pod(config_.close_quiet_ms)
      .Pod(config_.long_interruption_ms)
      .Pod(config_.comms_min_restorations)
      .Pod(config_.comms_max_matched_share);
  f.Pod<uint64_t>(areas_table_.size());
  for (const catalog::Area& a : areas_table_.areas()) f.String(a.name).Pod(a.region.value);
  f.Pod<uint64_t>(areas_table_.regions().size());
  for (const std::string& r : areas_table_.regions()) f.String(r);
  return f.Take();
}

void OutageTracker::SaveOutage(BinaryWriter& w, const AreaOutage& o) {
  w.Pod<uint32_t>(o.serial);
  PutBool(w, o.open);
  w.Pod<int64_t>(o.start_ms);
  w.Pod<int64_t>(o.end_ms);
  w.Pod<uint64_t>(o.affected);
  w.Pod<uint64_t>(o.restored);
  w.Pod<uint64_t>(o.long_interruptions);
  w.Pod<int64_t>(o.last_start_ms);
  w.Pod<int64_t>(o.last_restore_ms);
  w.String(o.id);
  PutEnum(w, o.reason);
  PutBool(w, o.has_tally);
  PutBool(w, o.counting);
  w.Pod<int64_t>(o.tally_until_ms);
  w.Pod<uint64_t>(o.affected_at_close);
  w.Pod<uint64_t>(o.restored_at_close);
  w.Pod<uint64_t>(o.long_at_close);
}

OutageTracker::AreaOutage OutageTracker::LoadOutage(BinaryReader& r) {
  AreaOutage o;
  o.serial = r.Pod<uint32_t>();
  o.open = GetBool(r);
  o.start_ms = GetTimeMs(r);
  o.end_ms = GetTimeMs(r);
  o.affected = r.Pod<uint64_t>();
  o.restored = r.Pod<uint64_t>();
  o.long_interruptions = r.Pod<uint64_t>();
  o.last_start_ms = GetTimeMs(r);
  o.last_restore_ms = GetTimeMs(r);
  o.id = r.String(kMaxText);
  o.reason = GetEnum<CloseReason>(r, static_cast<uint8_t>(CloseReason::kAge));
  o.has_tally = GetBool(r);
  o.counting = GetBool(r);
  o.tally_until_ms = GetTimeMs(r);
  o.affected_at_close = r.Pod<uint64_t>();
  o.restored_at_close = r.Pod<uint64_t>();
  o.long_at_close = r.Pod<uint64_t>();
  // An open outage has no close reason and no tally; a counting one has a tally; a closed one
  // has its reason; the counts only grow from those at close.
  if (o.open && (o.reason != CloseReason::kNone || o.has_tally)) r.Fail();
  if (!o.open && o.serial != 0 && o.reason == CloseReason::kNone) r.Fail();
  if (o.counting && !o.has_tally) r.Fail();
  if (o.restored_at_close > o.restored || o.affected_at_close > o.affected) r.Fail();
  return o;
}

void OutageTracker::SaveState(BinaryWriter& w) const {
  w.String(Fingerprint());
  w.Pod<int64_t>(latest_ms_);
  w.Pod<int64_t>(last_sweep_ms_);
  w.Pod<uint32_t>(next_serial_);
  w.Pod<uint64_t>(evicted_);
  w.Pod<uint64_t>(expired_);
  w.Pod<uint64_t>(dropped_signals_);
  w.Pod<uint64_t>(unknown_area_signals_);
  w.Pod<uint64_t>(tally_premises_evicted_);
  w.Pod<uint64_t>(tallies_cut_short_);
  PutCount(w, areas_.size());
  for (const AreaState& a : areas_) {
    PutCount(w, a.starts.size());
    for (const Stamp& st : a.starts) {
      w.Pod<int64_t>(st.ms);
      w.Pod<uint64_t>(st.premises);
    }
    PutBool(w, a.starts_sorted);
    w.Pod<uint64_t>(a.open_premises);
    SaveOutage(w, a.outage);
    PutCount(w, a.earlier.size());
    for (const AreaOutage& o : a.earlier) SaveOutage(w, o);
  }
  PutCount(w, regions_.size());
  for (const RegionState& g : regions_) {
    PutCount(w, g.restorations.size());
    for (const Restoration& x : g.restorations) {
      w.Pod<int64_t>(x.ms);
      w.Pod<uint64_t>(x.premises);
      w.Pod<uint8_t>(x.area.value);
    }
    PutBool(w, g.open);
    w.Pod<int64_t>(g.start_ms);
    w.Pod<uint64_t>(g.peak_unmatched);
    w.String(g.id);
  }
  // By key, so that one state always gives the same bytes.
  std::vector<std::pair<uint64_t, const Premises*>> order;
  order.reserve(premises_.size());
  for (const auto& [key, p] : premises_) order.emplace_back(key, &p);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  PutCount(w, order.size());
  for (const auto& [key, p] : order) {
    w.Pod<uint64_t>(key);
    w.Pod<int64_t>(p->start_ms);
    w.Pod<int64_t>(p->restore_ms);
    w.Pod<uint32_t>(p->outage);
    w.Pod<uint8_t>(p->area.value);
    PutBool(w, p->has_start);
    PutBool(w, p->restored);
    PutBool(w, p->long_interruption);
  }
}

absl::Status OutageTracker::LoadState(BinaryReader& r) {
  const std::string fingerprint = r.String(kMaxFingerprint);
  if (!r.ok()) return absl::DataLossError("outage state: truncated or malformed");
  // Another layout (its first field) cannot be read past this point: its own bytes are left to
  // the caller's framing (the evaluator's length-prefixed part).
  if (fingerprint.size() < sizeof(uint32_t) ||
      fingerprint.compare(0, sizeof(uint32_t), Fingerprint(), 0, sizeof(uint32_t)) != 0) {
    return absl::FailedPreconditionError("outage state of another layout");
  }
  const int64_t latest_ms = GetTimeMs(r);
  const int64_t last_sweep_ms = GetTimeMs(r);
  const auto next_serial = r.Pod<uint32_t>();
  const auto evicted = r.Pod<uint64_t>();
  const auto expired = r.Pod<uint64_t>();
  const auto dropped_signals = r.Pod<uint64_t>();
  const auto unknown_area_signals = r.Pod<uint64_t>();
  const auto tally_premises_evicted = r.Pod<uint64_t>();
  const auto tallies_cut_short = r.Pod<uint64_t>();
  if (next_serial == 0) r.Fail();  // 0 means "no outage"; serials skip it

  // Areas are validated against the saved area count; that it is this table's is the
  // fingerprint's job (checked once everything is read, so a skipped part is consumed whole).
  const uint64_t n_areas = GetCount(r, kMaxStateAreas);
  const auto known = [&](AreaId a) { return a == kUnknownArea || a.value < n_areas; };
  std::vector<AreaState> areas;
  for (uint64_t i = 0; i < n_areas && r.ok(); ++i) {
    AreaState& a = areas.emplace_back();
    const uint64_t n_starts = GetCount(r, kMaxStateList);
    for (uint64_t k = 0; k < n_starts && r.ok(); ++k) {
      Stamp st;
      st.ms = GetTimeMs(r);
      st.premises = r.Pod<uint64_t>();
      if (r.ok()) a.starts.push_back(st);
    }
    a.starts_sorted = GetBool(r);
    a.open_premises = r.Pod<uint64_t>();
    a.outage = LoadOutage(r);
    if (a.outage.open && a.outage.serial == 0) r.Fail();
    const uint64_t n_earlier = GetCount(r, kMaxCountingPerArea + 1);
    for (uint64_t k = 0; k < n_earlier && r.ok(); ++k) {
      AreaOutage o = LoadOutage(r);
      // Closed outages still counting (or ended early, to be published final).
      if (o.open || o.serial == 0 || !o.has_tally) r.Fail();
      if (r.ok()) a.earlier.push_back(std::move(o));
    }
  }
  const uint64_t n_regions = GetCount(r, kMaxStateAreas);
  std::vector<RegionState> regions;
  for (uint64_t i = 0; i < n_regions && r.ok(); ++i) {
    RegionState& g = regions.emplace_back();
    const uint64_t n_restorations = GetCount(r, kMaxStateList);
    for (uint64_t k = 0; k < n_restorations && r.ok(); ++k) {
      Restoration x;
      x.ms = GetTimeMs(r);
      x.premises = r.Pod<uint64_t>();
      x.area = AreaId{r.Pod<uint8_t>()};
      if (!known(x.area)) r.Fail();
      if (r.ok()) g.restorations.push_back(x);
    }
    g.open = GetBool(r);
    g.start_ms = GetTimeMs(r);
    g.peak_unmatched = r.Pod<uint64_t>();
    g.id = r.String(kMaxText);
  }
  absl::flat_hash_map<uint64_t, Premises> premises;
  const uint64_t n_premises = GetCount(r, kMaxStateList);
  for (uint64_t i = 0; i < n_premises && r.ok(); ++i) {
    const auto key = r.Pod<uint64_t>();
    Premises p;
    p.start_ms = GetTimeMs(r);
    p.restore_ms = GetTimeMs(r);
    p.outage = r.Pod<uint32_t>();
    p.area = AreaId{r.Pod<uint8_t>()};
    p.has_start = GetBool(r);
    p.restored = GetBool(r);
    p.long_interruption = GetBool(r);
    if (!known(p.area)) r.Fail();
    if (r.ok() && !premises.emplace(key, p).second) r.Fail();  // keys are unique
  }
  if (!r.ok()) return absl::DataLossError("outage state: truncated or malformed");
  if (fingerprint != Fingerprint()) {
    return absl::FailedPreconditionError(
        "outage state taken under other outage settings or another area table");
  }
  if (areas.size() != areas_.size() || regions.size() != regions_.size()) {
    r.Fail();  // the fingerprint names this table, the lists another
    return absl::DataLossError("outage state: area or region count does not match its table");
  }
  areas_ = std::move(areas);
  regions_ = std::move(regions);
  premises_ = std::move(premises);
  latest_ms_ = latest_ms;
  last_sweep_ms_ = last_sweep_ms;
  next_serial_ = next_serial;
  evicted_ = evicted;
  expired_ = expired;
  dropped_signals_ = dropped_signals;
  unknown_area_signals_ = unknown_area_signals;
  tally_premises_evicted_ = tally_premises_evicted;
  tallies_cut_short_ = tallies_cut_short;
  return absl::OkStatus();
}

}  // namespace smetsmon::rules
