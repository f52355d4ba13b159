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

const char* StormBasisName(StormBasis b) {
  switch (b) {
    case StormBasis::kLearning:
      return "learning";
    case StormBasis::kProvisional:
      return "provisional";
    case StormBasis::kLearned:
      return "learned";
  }
  return "learning";
}

absl::Status StormConfig::Validate() const {
  auto bad = [](const char* field, const char* rule) {
    return absl::InvalidArgumentError(absl::StrCat("storm.", field, " ", rule));
  };
  if (!(factor >= 1.0) || !std::isfinite(factor)) return bad("factor", "must be >= 1");
  if (!(provisional_factor >= factor) || !std::isfinite(provisional_factor)) {
    return bad("provisional_factor", "must be >= factor");
  }
  if (!(floor_per_hour >= 0) || !std::isfinite(floor_per_hour)) {
    return bad("floor_per_hour", "must be >= 0");
  }
  if (!(ceiling_per_hour == 0 || ceiling_per_hour > floor_per_hour) ||
      !std::isfinite(ceiling_per_hour)) {
    return bad("ceiling_per_hour", "must be 0 (none) or above floor_per_hour");
  }
  if (!(clear_ratio > 0 && clear_ratio <= 1)) return bad("clear_ratio", "must be in (0, 1]");
  if (min_duration_ms < 0) return bad("min_duration_ms", "must be >= 0");
  if (!(profile_half_life_days > 0) || !std::isfinite(profile_half_life_days)) {
    return bad("profile_half_life", "must be > 0");
  }
  if (profile_min_coverage_ms <= 0 || profile_min_coverage_ms > kMsPerHour) {
    return bad("profile_min_coverage", "must be in (0, 1h]");
  }
  if (level_half_life_ms <= 0) return bad("level_half_life", "must be > 0");
  if (warmup_ms < 0) return bad("warmup_ms", "must be >= 0");
  if (plateau_after_ms < kMsPerHour || plateau_after_ms > 7 * kMsPerDay ||
      plateau_after_ms % kMsPerHour != 0) {
    return bad("plateau_after", "must be whole hours from 1h to 7d");
  }
  if (!(plateau_tolerance > 0 && plateau_tolerance < 1)) {
    return bad("plateau_tolerance", "must be in (0, 1)");
  }
  if (rate_window_ms <= 0) return bad("rate_window", "must be > 0");
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

std::vector<const StormDetector::ScopeState*> StormDetector::Scopes() const {
  std::vector<const ScopeState*> out;
  out.reserve(scopes_.size());
  for (const auto& [key, s] : scopes_) out.push_back(&s);
  std::sort(out.begin(), out.end(),
            [](const ScopeState* a, const ScopeState* b) { return a->scope.key < b->scope.key; });
  return out;
}

std::array<size_t, kStormBasisCount> StormDetector::CountByBasis() const {
  std::array<size_t, kStormBasisCount> out{};
  for (const auto& [key, s] : scopes_) ++out[static_cast<size_t>(s.basis)];
  return out;
}

void StormDetector::Assess(ScopeState& s, int hour) const {
  if (s.hour_known(hour) && Warm(s)) {
    double expected = s.profile[hour];
    for (int h : {(hour + 23) % 24, (hour + 1) % 24}) {
      if (s.hour_known(h)) expected = std::max(expected, s.profile[h]);
    }
    s.basis = StormBasis::kLearned;
    s.expected = expected;
    s.threshold = std::max(config_.floor_per_hour, config_.factor * expected);
  } else if (Warm(s)) {
    s.basis = StormBasis::kProvisional;
    s.expected = s.level;
    s.threshold = std::max(config_.floor_per_hour, config_.provisional_factor * s.level);
  } else {
    s.basis = StormBasis::kLearning;
    s.expected = 0;
    s.threshold = 0;
  }
  if (config_.ceiling_per_hour > 0 &&
      (s.threshold == 0 || s.threshold > config_.ceiling_per_hour)) {
    s.threshold = config_.ceiling_per_hour;
  }
}

namespace {

// One step of a learned mean: the time-weighted mean of what was seen until `warm`, then an
// exponentially weighted mean with `half_life_ms`. An observation stands for the `dt_ms` since
// the previous one (irregular ticks and gaps are handled); the first one seeds the mean.
void Step(double& mean, int64_t& learned_ms, bool warm, double half_life_ms, int64_t dt_ms,
          double rate) {
  if (learned_ms == 0 && mean == 0) {
    mean = rate;
  } else {
    const double dt = static_cast<double>(dt_ms);
    const double alpha =
        warm ? 1.0 - std::exp2(-dt / half_life_ms) : dt / (static_cast<double>(learned_ms) + dt);
    mean += alpha * (rate - mean);
  }
  learned_ms += dt_ms;
}

}  // namespace

void StormDetector::Learn(ScopeState& s, int64_t dt_ms, int hour, double rate) const {
  if (!s.level_any) {
    s.level = rate;
    s.level_any = true;
    s.profile[hour] = rate;
    return;  // a point, no time behind it yet
  }
  Step(s.level, s.level_ms, Warm(s), static_cast<double>(config_.level_half_life_ms), dt_ms, rate);
  // A day's visit of an hour is one hour of that slot's time: a half-life of N days is N hours.
  Step(s.profile[hour], s.profile_ms[hour], s.hour_known(hour),
       config_.profile_half_life_days * static_cast<double>(kMsPerHour), dt_ms, rate);
}

bool StormDetector::ExtendPlateau(ScopeState& s, EventTime now, int64_t dt_ms, double rate) const {
  const auto hours = static_cast<size_t>(config_.plateau_after_ms / kMsPerHour);
  if (!s.hour_start) {  // the storm's first observation
    s.hour_start = now;
    s.storm_hours.clear();
    s.hour_sum = 0;
    s.hour_ms = 0;
    return false;
  }
  s.hour_sum += rate * static_cast<double>(dt_ms);
  s.hour_ms += dt_ms;
  bool completed = false;
  while (now.ms - s.hour_start->ms >= kMsPerHour) {
    s.storm_hours.push_back(s.hour_ms > 0 ? s.hour_sum / static_cast<double>(s.hour_ms) : rate);
    if (s.storm_hours.size() > hours) s.storm_hours.erase(s.storm_hours.begin());
    s.hour_start = EventTime{s.hour_start->ms + kMsPerHour};
    s.hour_sum = 0;
    s.hour_ms = 0;
    completed = true;
  }
  if (!completed || s.storm_hours.size() < hours) return false;
  const auto [lo, hi] = std::minmax_element(s.storm_hours.begin(), s.storm_hours.end());
  if (!(*hi <= *lo * (1.0 + config_.plateau_tolerance))) return false;
  double sum = 0;
  for (double h : s.storm_hours) sum += h;
  s.plateau_mean = sum / static_cast<double>(s.storm_hours.size());
  return true;
}

void StormDetector::AcceptPlateau(ScopeState& s) const {
  // The plateau is the new normal: the level is it, and the profile keeps its shape around it.
  const double level = s.plateau_mean;
  if (s.expected > 0) {
    const double scale = level / s.expected;
    for (int h = 0; h < 24; ++h) s.profile[h] *= scale;
  }
  s.profile[s.last_hour] = std::max(s.profile[s.last_hour], level);
  s.profile_ms[s.last_hour] = std::max(s.profile_ms[s.last_hour], config_.profile_min_coverage_ms);
  s.known_hours_mask |= 1u << s.last_hour;
  s.level = level;
  s.level_any = true;
  s.level_ms = std::max(s.level_ms, config_.warmup_ms);
}

void StormDetector::EndStorm(ScopeState& s) {
  s.storming = false;
  s.ceiling = false;
  s.open_since.reset();
  s.clear_since.reset();
  s.storm_hours.clear();
  s.hour_start.reset();
  s.hour_sum = 0;
  s.hour_ms = 0;
  s.plateau_mean = 0;
  s.finding_id.clear();
  s.peak = 0;
  s.open_threshold = 0;
  s.open_expected = 0;
  s.open_basis = StormBasis::kLearning;
}

void StormDetector::Observe(EventTime now, int hour_of_day, const StormScope& scope,
                            double rate_per_hour, FindingBook& book) {
  if (!std::isfinite(rate_per_hour)) return;
  const double rate = std::max(0.0, rate_per_hour);
  const int hour = ((hour_of_day % 24) + 24) % 24;

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
  first = first || s.last_observed.ms == 0;  // created, or seeded and never observed here
  if (!first && now < s.last_observed) {
    ++out_of_order_;
    return;
  }
  if (!first && (s.scope.label != scope.label || s.scope.region != scope.region ||
                 s.scope.area != scope.area)) {
    s.scope = scope;  // the caller renamed it (reload); the key is unchanged
  }
  const int64_t dt = first ? 0 : now.ms - s.last_observed.ms;
  // A visit of an hour has ended: its slot is known if enough of it was observed.
  if (!first && s.last_hour != hour &&
      s.profile_ms[s.last_hour] >= config_.profile_min_coverage_ms) {
    s.known_hours_mask |= 1u << s.last_hour;
  }
  s.last_observed = now;
  s.last_rate = rate;
  s.last_hour = hour;
  Assess(s, hour);
  const bool above = s.threshold > 0 && rate >= s.threshold;
  // A ceiling storm: the ceiling is the binding threshold (no baseline, or one above it).
  const bool at_ceiling = config_.ceiling_per_hour > 0 && s.threshold == config_.ceiling_per_hour;

  if (!s.storming) {
    if (!above) {
      s.open_since.reset();
      Learn(s, dt, hour, rate);
      Assess(s, hour);
      return;
    }
    if (!s.open_since) {
      s.open_since = now;
      s.open_threshold = s.threshold;
      s.open_expected = s.expected;
      s.open_basis = s.basis;
      s.ceiling = at_ceiling;
      s.peak = rate;
    }
    s.peak = std::max(s.peak, rate);
    if (now.ms - s.open_since->ms < config_.min_duration_ms) return;
    s.storming = true;
    s.clear_since.reset();
    s.hour_start.reset();
    ExtendPlateau(s, now, dt, rate);
    s.finding_id = absl::StrCat("storm:", s.scope.key, ":", s.open_since->ms);
    Publish(s, now, book, /*plateau=*/false);
    return;
  }

  s.peak = std::max(s.peak, rate);
  const bool flat = ExtendPlateau(s, now, dt, rate);
  if (flat && !s.ceiling) {
    // The plateau policy: a level held this long is the new normal.
    AcceptPlateau(s);
    ++plateaus_accepted_;
    Publish(s, now, book, /*plateau=*/true);
    book.Close(s.finding_id, now);
    EndStorm(s);
    Assess(s, hour);
    return;
  }
  const double clear_level =
      config_.clear_ratio * (s.threshold > 0 ? s.threshold : s.open_threshold);
  if (rate < clear_level) {
    if (!s.clear_since) s.clear_since = now;
    if (now.ms - s.clear_since->ms >= config_.min_duration_ms) {
      s.storming = false;
      Publish(s, now, book, /*plateau=*/false);
      book.Close(s.finding_id, *s.clear_since);
      EndStorm(s);
      return;
    }
  } else {
    s.clear_since.reset();
  }
  Publish(s, now, book, /*plateau=*/false);
}

// Writes the scope's finding: open (s.storming), or final (about to be closed: cleared, or its
// plateau accepted).
void StormDetector::Publish(const ScopeState& s, EventTime now, FindingBook& book,
                            bool plateau) const {
  const double t = s.threshold > 0 ? s.threshold : s.open_threshold;
  const double clear_level = config_.clear_ratio * t;
  const std::string& label = s.scope.label.empty() ? s.scope.key : s.scope.label;
  const double expected = s.open_expected;

  // How a rate compares with what was expected, in words.
  auto against = [&](double rate) {
    if (s.ceiling) {
      std::string out = absl::StrCat("at or above the absolute ceiling of ",
                                     FormatRate(config_.ceiling_per_hour), "/h");
      if (s.open_basis == StormBasis::kLearning) {
        absl::StrAppend(&out, " (no baseline learned yet)");
      } else if (expected > 0) {
        absl::StrAppend(
            &out, " (", FormatRatio(rate / expected), " times the ",
            s.open_basis == StormBasis::kLearned ? "usual rate for the hour" : "recent level",
            " of ", FormatRate(expected), "/h)");
      }
      return out;
    }
    const char* what = s.open_basis == StormBasis::kLearned
                           ? "the usual rate for the hour"
                           : "the recent level (this hour's usual rate not learned yet)";
    if (expected <= 0) {
      return absl::StrCat("against ", what, " of 0/h (storm threshold ", FormatRate(t), "/h)");
    }
    return absl::StrCat(FormatRatio(rate / expected), " times ", what, " of ", FormatRate(expected),
                        "/h (storm threshold ", FormatRate(t), "/h)");
  };

  Finding f;
  f.id = s.finding_id;
  f.kind = FindingKind::kStorm;
  f.area = s.scope.area;
  f.region = s.scope.region;
  f.scope = s.scope.key;
  f.start = *s.open_since;
  const double severity_base = s.open_threshold;
  if (plateau) {
    f.severity = s.peak >= 3 * severity_base ? Severity::kCritical : Severity::kWarning;
    f.explanation = absl::StrCat(label, " storm from ", FormatUtcClock(f.start.ms, now), " to ",
                                 FormatUtcClock(now.ms, now),
                                 " UTC closed by the plateau policy: the rate has held at about ",
                                 FormatRate(s.plateau_mean), "/h for ", s.storm_hours.size(),
                                 " hours, so that level is now the baseline; peak ",
                                 FormatRate(s.peak), "/h, ", against(s.peak));
  } else if (s.storming) {
    f.severity = s.last_rate >= 3 * severity_base ? Severity::kCritical : Severity::kWarning;
    f.explanation =
        absl::StrCat(label, " at ", FormatRate(s.last_rate), "/h, ", against(s.last_rate),
                     ", since ", FormatUtcClock(f.start.ms, now), " UTC");
    if (s.peak > s.last_rate) absl::StrAppend(&f.explanation, "; peak ", FormatRate(s.peak), "/h");
    if (s.clear_since) {
      absl::StrAppend(&f.explanation, "; below the clearing level of ", FormatRate(clear_level),
                      "/h since ", FormatUtcClock(s.clear_since->ms, now), " UTC");
    }
  } else {
    // The final version: the severity the storm reached, and its whole span.
    f.severity = s.peak >= 3 * severity_base ? Severity::kCritical : Severity::kWarning;
    f.explanation =
        absl::StrCat(label, " storm from ", FormatUtcClock(f.start.ms, now), " to ",
                     FormatUtcClock(s.clear_since->ms, now), " UTC: peak ", FormatRate(s.peak),
                     "/h, ", against(s.peak), "; now ", FormatRate(s.last_rate), "/h");
  }
  f.figures["rate_per_hour"] = s.last_rate;
  f.figures["baseline_per_hour"] = expected;
  f.figures["baseline_known"] = s.open_basis == StormBasis::kLearning ? 0 : 1;
  f.figures["baseline_learned_for_hour"] = s.open_basis == StormBasis::kLearned ? 1 : 0;
  f.figures["ceiling"] = s.ceiling ? 1 : 0;
  f.figures["threshold_per_hour"] = t;
  f.figures["clear_threshold_per_hour"] = clear_level;
  f.figures["ratio"] = expected > 0 ? s.last_rate / expected : 0.0;
  f.figures["peak_per_hour"] = s.peak;
  f.figures["plateau_accepted"] = plateau ? 1 : 0;
  book.Upsert(std::move(f));
}

// What the learned baselines mean: a change of these makes them another thing.
std::string StormDetector::LearningFingerprint() const {
  return state_io::Fingerprint()
      .Pod<uint32_t>(2)  // layout: level + 24-slot profile
      .Pod(config_.profile_half_life_days)
      .Pod(config_.profile_min_coverage_ms)
      .Pod(config_.level_half_life_ms)
      .Pod(config_.warmup_ms)
      .Take();
}

// The settings whose change restarts the detector on a reload (Evaluator::Reload): a baseline or
// an open storm learned under them means something else under others.
std::string StormDetector::Fingerprint() const {
  return state_io::Fingerprint()
      .Pod<uint32_t>(2)  // the state's layout: 2 = time-of-day profile, plateau, ceiling
      .String(LearningFingerprint())
      .Pod(config_.factor)
      .Pod(config_.provisional_factor)
      .Pod(config_.floor_per_hour)
      .Pod(config_.ceiling_per_hour)
      .Pod(config_.clear_ratio)
      .Pod(config_.min_duration_ms)
      .Pod(config_.plateau_after_ms)
      .Pod(config_.plateau_tolerance)
      .Pod(config_.rate_window_ms)
      .Pod<uint64_t>(config_.max_scopes)
      .Take();
}

namespace {

void PutScope(BinaryWriter& w, const StormScope& s) {
  w.String(s.key);
  w.Pod<uint8_t>(s.area.value);
  w.String(s.region);
  w.String(s.label);
}

StormScope GetScope(BinaryReader& r, size_t area_count) {
  StormScope s;
  s.key = r.String(kMaxText);
  s.area = AreaId{r.Pod<uint8_t>()};
  if (s.area != kUnknownArea && s.area.value >= area_count) r.Fail();
  s.region = r.String(kMaxText);
  s.label = r.String(kMaxText);
  return s;
}

void PutBaseline(BinaryWriter& w, const StormDetector::ScopeState& s) {
  w.Pod<double>(s.level);
  w.Pod<int64_t>(s.level_ms);
  PutBool(w, s.level_any);
  for (int h = 0; h < 24; ++h) {
    w.Pod<double>(s.profile[h]);
    w.Pod<int64_t>(s.profile_ms[h]);
  }
  w.Pod<uint32_t>(s.known_hours_mask);
}

void GetBaseline(BinaryReader& r, StormDetector::ScopeState& s) {
  s.level = GetNonNegative(r);
  s.level_ms = GetTimeMs(r);
  s.level_any = GetBool(r);
  for (int h = 0; h < 24; ++h) {
    s.profile[h] = GetNonNegative(r);
    s.profile_ms[h] = GetTimeMs(r);
    if (s.profile_ms[h] < 0) r.Fail();
  }
  s.known_hours_mask = r.Pod<uint32_t>();
  if (s.known_hours_mask >> 24 != 0) r.Fail();
  if (s.level_ms < 0) r.Fail();
}

}  // namespace

void StormDetector::SaveState(BinaryWriter& w) const {
  w.String(Fingerprint());
  w.Pod<uint64_t>(dropped_scopes_);
  w.Pod<uint64_t>(out_of_order_);
  w.Pod<uint64_t>(plateaus_accepted_);
  // By key, so that one state always gives the same bytes.
  const std::vector<const ScopeState*> order = Scopes();
  PutCount(w, order.size());
  for (const ScopeState* s : order) {
    PutScope(w, s->scope);
    PutBaseline(w, *s);
    w.Pod<uint8_t>(static_cast<uint8_t>(s->basis));
    w.Pod<double>(s->expected);
    w.Pod<double>(s->threshold);
    w.Pod<double>(s->last_rate);
    w.Pod<int32_t>(s->last_hour);
    PutTime(w, s->last_observed);
    PutBool(w, s->storming);
    PutBool(w, s->ceiling);
    PutOptionalTime(w, s->open_since);
    PutOptionalTime(w, s->clear_since);
    w.Pod<double>(s->open_threshold);
    w.Pod<double>(s->open_expected);
    w.Pod<uint8_t>(static_cast<uint8_t>(s->open_basis));
    w.Pod<double>(s->peak);
    w.String(s->finding_id);
    PutCount(w, s->storm_hours.size());
    for (double h : s->storm_hours) w.Pod<double>(h);
    PutOptionalTime(w, s->hour_start);
    w.Pod<double>(s->hour_sum);
    w.Pod<int64_t>(s->hour_ms);
    w.Pod<double>(s->plateau_mean);
  }
}

absl::Status StormDetector::LoadState(BinaryReader& r, size_t area_count) {
  const std::string fingerprint = r.String(kMaxFingerprint);
  if (r.ok() && fingerprint != Fingerprint()) {
    return absl::FailedPreconditionError("storm state taken under other storm settings");
  }
  const auto dropped = r.Pod<uint64_t>();
  const auto out_of_order = r.Pod<uint64_t>();
  const auto plateaus = r.Pod<uint64_t>();
  absl::flat_hash_map<std::string, ScopeState> scopes;
  const uint64_t n = GetCount(r, config_.max_scopes);
  const auto get_basis = [&r] {
    const auto b = r.Pod<uint8_t>();
    if (b >= kStormBasisCount) r.Fail();
    return static_cast<StormBasis>(b < kStormBasisCount ? b : 0);
  };
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    ScopeState s;
    s.scope = GetScope(r, area_count);
    GetBaseline(r, s);
    s.basis = get_basis();
    s.expected = GetNonNegative(r);
    s.threshold = GetNonNegative(r);
    s.last_rate = GetNonNegative(r);
    s.last_hour = r.Pod<int32_t>();
    if (s.last_hour < 0 || s.last_hour > 23) r.Fail();
    s.last_observed = GetTime(r);
    s.storming = GetBool(r);
    s.ceiling = GetBool(r);
    s.open_since = GetOptionalTime(r);
    s.clear_since = GetOptionalTime(r);
    s.open_threshold = GetNonNegative(r);
    s.open_expected = GetNonNegative(r);
    s.open_basis = get_basis();
    s.peak = GetNonNegative(r);
    s.finding_id = r.String(kMaxText);
    const uint64_t hours = GetCount(r, config_.plateau_after_ms / kMsPerHour);
    for (uint64_t h = 0; h < hours && r.ok(); ++h) s.storm_hours.push_back(GetNonNegative(r));
    s.hour_start = GetOptionalTime(r);
    s.hour_sum = GetNonNegative(r);
    s.hour_ms = GetTimeMs(r);
    s.plateau_mean = GetNonNegative(r);
    // What Observe and Publish rely on: a storm has its start, its finding and its plateau
    // tracking; the clearing count runs only during a storm; keys are unique.
    if (s.storming && (!s.open_since || s.finding_id.empty() || !s.hour_start)) r.Fail();
    if (s.clear_since && !s.storming) r.Fail();
    if (s.hour_ms < 0) r.Fail();
    if (!r.ok() || !scopes.emplace(s.scope.key, std::move(s)).second) r.Fail();
  }
  if (!r.ok()) return absl::DataLossError("storm state: truncated or malformed");
  scopes_ = std::move(scopes);
  dropped_scopes_ = dropped;
  out_of_order_ = out_of_order;
  plateaus_accepted_ = plateaus;
  return absl::OkStatus();
}

void StormDetector::SaveBaselines(BinaryWriter& w) const {
  w.String(LearningFingerprint());
  const std::vector<const ScopeState*> order = Scopes();
  PutCount(w, order.size());
  for (const ScopeState* s : order) {
    PutScope(w, s->scope);
    // The hour being visited counts as known in a seed once covered: the seed's history ended.
    ScopeState copy = *s;
    if (copy.profile_ms[copy.last_hour] >= config_.profile_min_coverage_ms) {
      copy.known_hours_mask |= 1u << copy.last_hour;
    }
    PutBaseline(w, copy);
  }
}

absl::Status StormDetector::SeedBaselines(BinaryReader& r, size_t area_count, size_t* seeded) {
  *seeded = 0;
  const std::string fingerprint = r.String(kMaxFingerprint);
  if (r.ok() && fingerprint != LearningFingerprint()) {
    return absl::FailedPreconditionError(
        "storm baselines learned under other learning settings (half-lives, warm-up, coverage)");
  }
  std::vector<ScopeState> read;
  const uint64_t n = GetCount(r, kMaxStateScopes);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    ScopeState s;
    s.scope = GetScope(r, area_count);
    GetBaseline(r, s);
    if (r.ok()) read.push_back(std::move(s));
  }
  if (!r.ok()) return absl::DataLossError("storm baselines: truncated or malformed");
  for (ScopeState& s : read) {
    if (scopes_.size() >= config_.max_scopes) break;
    if (scopes_.contains(s.scope.key)) continue;
    // Never observed here: the first observation takes its time from there (dt 0).
    const std::string key = s.scope.key;
    auto [it, inserted] = scopes_.emplace(key, std::move(s));
    it->second.last_observed = EventTime{0};
    ++*seeded;
  }
  return absl::OkStatus();
}

}  // namespace smetsmon::rules
