#include "rules/storm.h"

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
using state_io::GetNonNegative;
using state_io::GetOptionalTime;
using state_io::GetTime;
using state_io::GetTimeMs;
using state_io::kMaxFingerprint;
using state_io::kMaxText;
using state_io::PutBool;
using state_io::PutCount;
using state_io::PutOptionalTime;
using state_io::PutTime;

namespace {

// Scopes in a state: beyond any valid max_scopes a config would set; checked against the
// configured cap once the settings are known to match.
constexpr uint64_t kMaxStateScopes = 1 << 24;

// "1,240" for rates of 10 and above (rounded), "2.5" below (integers stay "0", "3").
std::string FormatRate(double v) {
  if (!std::isfinite(v)) return "?";
  if (std::fabs(v) >= 1e18) {  // beyond int64 (only from a damaged state): no digit grouping
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  if (std::fabs(v) < 10 && v != std::round(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }
  const auto n = static_cast<int64_t>(std::llround(v));
  const std::string out = GroupDigits(std::to_string(n < 0 ? -n : n));
  return n < 0 ? "-" + out : out;
}

// "8.3" (one decimal below 100, a rounded integer above).
std::string FormatRatio(double v) {
  if (!std::isfinite(v)) return "?";
  if (v >= 100) return FormatRate(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

absl::Status StormConfig::Validate() const {
  auto bad = [](const char* field, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat("storm.", field, " ", rule));
  };
  if (!(factor >= 1.0) || !std::isfinite(factor)) return bad("factor", "must be >= 1");
  if (!(floor_per_hour >= 0) || !std::isfinite(floor_per_hour)) {
    return bad("floor_per_hour", "must be >= 0");
  }
  if (!(clear_ratio > 0 && clear_ratio <= 1)) return bad("clear_ratio", "must be in (0, 1]");
  if (min_duration_ms < 0) return bad("min_duration_ms", "must be >= 0");
  if (!(baseline_half_life_hours > 0) || !std::isfinite(baseline_half_life_hours)) {
    return bad("baseline_half_life_hours", "must be > 0");
  }
  if (warmup_ms < 0) return bad("warmup_ms", "must be >= 0");
  if (max_scopes == 0) return bad("max_scopes", "must be > 0");
  return absl::OkStatus();
}

StormDetector::StormDetector(StormConfig c) : config_(std::move(c)) {
  SMETSMON_CHECK(config_.Validate().ok());
}

const StormDetector::ScopeState* StormDetector::Find(const std::string& key) const {
  auto it = scopes_.find(key);
  return it == scopes_.end() ? nullptr : &it->second;
}

double StormDetector::Threshold(const ScopeState& s) const {
  if (!s.warmed_up) return config_.factor * config_.floor_per_hour;
  return std::max(config_.floor_per_hour, config_.factor * s.baseline);
}

void StormDetector::Learn(ScopeState& s, int64_t dt_ms, double rate) const {
  if (!s.learned_any) {
    s.baseline = rate;
    s.learned_any = true;
  } else {
    // Irregular sampling: the observation stands for the dt since the previous one. Until the
    // scope is warm the baseline is the time-weighted mean of what was seen (an EWMA seeded with
    // the first, often partial, window would stay near it for a whole half-life); after that, an
    // EWMA with the configured half-life.
    const double half_life_ms = config_.baseline_half_life_hours * static_cast<double>(kMsPerHour);
    const double dt = static_cast<double>(dt_ms);
    const double alpha = s.warmed_up ? 1.0 - std::exp2(-dt / half_life_ms)
                                     : dt / (static_cast<double>(s.learned_ms) + dt);
    s.baseline += alpha * (rate - s.baseline);
    s.learned_ms += dt_ms;
  }
  s.warmed_up = s.learned_ms >= config_.warmup_ms;
}

void StormDetector::Observe(EventTime now, const StormScope& scope, double rate_per_hour,
                            FindingBook& book) {
  if (!std::isfinite(rate_per_hour)) return;
  const double rate = std::max(0.0, rate_per_hour);

  auto it = scopes_.find(scope.key);
  bool first = false;
  if (it == scopes_.end()) {
    if (scopes_.size() >= config_.max_scopes) {
      ++dropped_scopes_;
      return;
    }
    it = scopes_.emplace(scope.key, ScopeState{}).first;
    it->second.scope = scope;
    first = true;
  }
  ScopeState& s = it->second;
  if (!first && now < s.last_observed) {
    ++out_of_order_;
    return;
  }
  if (!first && (s.scope.label != scope.label || s.scope.region != scope.region ||
                 s.scope.area != scope.area)) {
    s.scope = scope;  // the caller renamed it (reload); the key is unchanged
  }
  const int64_t dt = first ? 0 : now.ms - s.last_observed.ms;
  s.last_observed = now;
  s.last_rate = rate;
  s.threshold = Threshold(s);

  if (!s.storming) {
    if (rate < s.threshold) {
      s.open_since.reset();
      Learn(s, dt, rate);
      s.threshold = Threshold(s);
      return;
    }
    if (!s.open_since) {
      s.open_since = now;
      s.open_threshold = s.threshold;
      s.peak = rate;
    }
    s.peak = std::max(s.peak, rate);
    if (now.ms - s.open_since->ms < config_.min_duration_ms) return;
    s.storming = true;
    s.clear_since.reset();
    s.finding_id = absl::StrCat("storm:", s.scope.key, ":", s.open_since->ms);
    Publish(s, now, book);
    return;
  }

  s.peak = std::max(s.peak, rate);
  if (rate < config_.clear_ratio * s.open_threshold) {
    if (!s.clear_since) s.clear_since = now;
    if (now.ms - s.clear_since->ms >= config_.min_duration_ms) {
      s.storming = false;
      Publish(s, now, book);
      book.Close(s.finding_id, *s.clear_since);
      s.open_since.reset();
      s.clear_since.reset();
      s.finding_id.clear();
      s.peak = 0;
      s.open_threshold = 0;
      return;
    }
  } else {
    s.clear_since.reset();
  }
  Publish(s, now, book);
}

// Writes the scope's finding: open (s.storming) or final (about to be closed).
void StormDetector::Publish(const ScopeState& s, EventTime now, FindingBook& book) const {
  const double t = s.open_threshold;
  const double clear_level = config_.clear_ratio * t;
  const bool has_baseline = s.warmed_up;
  const double baseline = has_baseline ? s.baseline : 0.0;
  const std::string& label = s.scope.label.empty() ? s.scope.key : s.scope.label;

  // How a rate compares with the baseline, in words.
  auto against_baseline = [&](double rate) {
    if (!has_baseline) {
      return absl::StrCat("above the storm threshold of ", FormatRate(t),
                          "/h (no baseline learned yet)");
    }
    if (baseline <= 0) {
      return absl::StrCat("against a learned baseline of 0/h (storm threshold ", FormatRate(t),
                          "/h)");
    }
    return absl::StrCat(FormatRatio(rate / baseline), " times the learned baseline of ",
                        FormatRate(baseline), "/h (storm threshold ", FormatRate(t), "/h)");
  };

  Finding f;
  f.id = s.finding_id;
  f.kind = FindingKind::kStorm;
  f.area = s.scope.area;
  f.region = s.scope.region;
  f.scope = s.scope.key;
  f.start = *s.open_since;
  if (s.storming) {
    f.severity = s.last_rate >= 3 * t ? Severity::kCritical : Severity::kWarning;
    f.explanation =
        absl::StrCat(label, " at ", FormatRate(s.last_rate), "/h, ", against_baseline(s.last_rate),
                     ", since ", FormatUtcClock(f.start.ms, now), " UTC");
    if (s.peak > s.last_rate) absl::StrAppend(&f.explanation, "; peak ", FormatRate(s.peak), "/h");
    if (s.clear_since) {
      absl::StrAppend(&f.explanation, "; below the clearing level of ", FormatRate(clear_level),
                      "/h since ", FormatUtcClock(s.clear_since->ms, now), " UTC");
    }
  } else {
    // The final version: the severity the storm reached, and its whole span.
    f.severity = s.peak >= 3 * t ? Severity::kCritical : Severity::kWarning;
    f.explanation =
        absl::StrCat(label, " storm from ", FormatUtcClock(f.start.ms, now), " to ",
                     FormatUtcClock(s.clear_since->ms, now), " UTC: peak ", FormatRate(s.peak),
                     "/h, ", against_baseline(s.peak), "; now ", FormatRate(s.last_rate), "/h");
  }
  f.figures["rate_per_hour"] = s.last_rate;
  f.figures["baseline_per_hour"] = baseline;
  f.figures["baseline_known"] = has_baseline ? 1 : 0;
  f.figures["threshold_per_hour"] = t;
  f.figures["clear_threshold_per_hour"] = clear_level;
  f.figures["ratio"] = has_baseline && baseline > 0 ? s.last_rate / baseline : 0.0;
  f.figures["peak_per_hour"] = s.peak;
  book.Upsert(std::move(f));
}

// The settings whose change restarts the detector on a reload (Evaluator::Reload): a baseline or
// an open storm learned under them means something else under others.
std::string StormDetector::Fingerprint() const {
  return state_io::Fingerprint()
      .Pod<uint32_t>(1)  // the fingerprint's own layout
      .Pod(config_.factor)
      .Pod(config_.floor_per_hour)
      .Pod(config_.clear_ratio)
      .Pod(config_.min_duration_ms)
      .Pod(config_.baseline_half_life_hours)
      .Pod(config_.warmup_ms)
      .Pod<uint64_t>(config_.max_scopes)
      .Take();
}

void StormDetector::SaveState(BinaryWriter& w) const {
  w.String(Fingerprint());
  w.Pod<uint64_t>(dropped_scopes_);
  w.Pod<uint64_t>(out_of_order_);
  // By key, so that one state always gives the same bytes.
  std::vector<const ScopeState*> order;
  order.reserve(scopes_.size());
  for (const auto& [key, s] : scopes_) order.push_back(&s);
  std::sort(order.begin(), order.end(),
            [](const ScopeState* a, const ScopeState* b) { return a->scope.key < b->scope.key; });
  PutCount(w, order.size());
  for (const ScopeState* s : order) {
    w.String(s->scope.key);
    w.Pod<uint8_t>(s->scope.area.value);
    w.String(s->scope.region);
    w.String(s->scope.label);
    w.Pod<double>(s->baseline);
    PutBool(w, s->warmed_up);
    w.Pod<int64_t>(s->learned_ms);
    PutBool(w, s->learned_any);
    w.Pod<double>(s->threshold);
    w.Pod<double>(s->last_rate);
    PutTime(w, s->last_observed);
    PutBool(w, s->storming);
    PutOptionalTime(w, s->open_since);
    PutOptionalTime(w, s->clear_since);
    w.Pod<double>(s->open_threshold);
    w.Pod<double>(s->peak);
    w.String(s->finding_id);
  }
}

absl::Status StormDetector::LoadState(BinaryReader& r, size_t area_count) {
  const std::string fingerprint = r.String(kMaxFingerprint);
  const auto dropped = r.Pod<uint64_t>();
  const auto out_of_order = r.Pod<uint64_t>();
  absl::flat_hash_map<std::string, ScopeState> scopes;
  const uint64_t n = GetCount(r, kMaxStateScopes);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    ScopeState s;
    s.scope.key = r.String(kMaxText);
    s.scope.area = AreaId{r.Pod<uint8_t>()};
    if (s.scope.area != kUnknownArea && s.scope.area.value >= area_count) r.Fail();
    s.scope.region = r.String(kMaxText);
    s.scope.label = r.String(kMaxText);
    s.baseline = GetNonNegative(r);
    s.warmed_up = GetBool(r);
    s.learned_ms = GetTimeMs(r);
    s.learned_any = GetBool(r);
    s.threshold = GetNonNegative(r);
    s.last_rate = GetNonNegative(r);
    s.last_observed = GetTime(r);
    s.storming = GetBool(r);
    s.open_since = GetOptionalTime(r);
    s.clear_since = GetOptionalTime(r);
    s.open_threshold = GetNonNegative(r);
    s.peak = GetNonNegative(r);
    s.finding_id = r.String(kMaxText);
    // What Observe and Publish rely on: a storm has its start and its finding; the clearing
    // count runs only during a storm; keys are unique.
    if (s.storming && (!s.open_since || s.finding_id.empty())) r.Fail();
    if (s.clear_since && !s.storming) r.Fail();
    if (s.learned_ms < 0) r.Fail();
    if (!r.ok() || !scopes.emplace(s.scope.key, std::move(s)).second) r.Fail();
  }
  if (!r.ok()) return absl::DataLossError("storm state: truncated or malformed");
  if (fingerprint != Fingerprint()) {
    return absl::FailedPreconditionError("storm state taken under other storm settings");
  }
  if (scopes.size() > config_.max_scopes) {
    r.Fail();
    return absl::DataLossError("storm state: more scopes than its settings allow");
  }
  scopes_ = std::move(scopes);
  dropped_scopes_ = dropped;
  out_of_order_ = out_of_order;
  return absl::OkStatus();
}

}  // namespace smetsmon::rules
