// Alert-storm detection: the current alert rate of one scope (an area x category, or an SMETS1
// DMC x category) far above what that scope normally does at that time of day, with an absolute
// floor, hysteresis and a minimum duration so that one noisy hour does not flap. A storm is a
// rise from a known normal; a steady rate is never one (docs/rules.md, "Storms").
//
// What a scope normally does, its baseline, has two parts, both learned only from observations
// taken while the scope is quiet (neither a storm nor a burst that has not yet become one):
//
//   profile  24 hourly slots (local hour of day): the rate usually seen in that hour. A slot is
//            known once a visit of that hour has ended with profile_min_coverage_ms of it observed
//            (so on a cold start each hour is known from its second visit, the next day); until
//            then its value is the time-weighted mean of what was seen, after that an
//            exponentially weighted mean
//            whose half-life is profile_half_life_days visits of that hour (a day's visit counts
//            one hour of weight). Voltage alerts follow solar noon and the evening peak: the
//            profile is what keeps the ordinary midday rise from being a storm.
//   level    the recent rate, whatever the hour: a time-weighted mean until warmup_ms of
//            observations, then an exponentially weighted mean with half-life level_half_life_ms.
//
// Per observation (one per evaluation tick) the scope is in one of three states:
//
//   learned      the hour's profile slot is known: expected = the highest known slot among the
//                hour and its two neighbours (tolerates a drifting noon, a clock change, a slow
//                evening); threshold = max(floor, factor * expected).
//   provisional  the hour is not yet known but the level is warm: expected = level; threshold =
//                max(floor, provisional_factor * expected) (a wider margin: the level does not
//                know what the hour usually brings).
//   learning     neither: no baseline, no storm from the baseline.
//
//   An absolute ceiling (ceiling_per_hour, 0 = none) opens a storm in any state: a rate at or
//   above it is reported as having crossed the ceiling, not as a multiple of a baseline.
//
//   open   when rate >= threshold has held for min_duration_ms (from the first observation at which
//          it held; an observation below restarts the count). The storm's start is that first
//          observation.
//   clear  when rate < clear_ratio * threshold (the threshold of the moment, so a storm that
//          carries into the evening peak clears against the evening's threshold) has held for
//          min_duration_ms; rates between neither open nor clear (hysteresis). The storm's end is
//          the first observation of that quiet stretch.
//   plateau  a storm whose hourly mean rates over its last plateau_after_ms (whole hours counted
//          from its opening) stay within a ratio of 1 + plateau_tolerance of each other is the new
//          normal: it closes with that explanation and the baseline moves to the plateau's level
//          (the level, and the whole profile scaled by plateau / expected). A storm still rising
//          or falling is not flat. Not for a ceiling storm: a ceiling is a hard limit, not a
//          normal.
//
// Seeding: a cold start learns from nothing (every scope is learning for its first warmup_ms and
// each hour for its first visit). The checkpoint restores everything; SaveBaselines/
// SeedBaselines carry the learned baselines alone (from `smetsmon replay --baselines-out` over
// recent history) into a detector that has none.
//
// The caller observes every known scope on every tick, zero rates included: a scope that is no
// longer observed keeps its state (and an open storm stays open).
//
// Time domain: event time (the evaluator's stream time) plus the local hour of day it is given;
// an observation older than the scope's previous one is ignored and counted. Memory: at most
// max_scopes scopes; observations of new scopes beyond that are refused and counted.
// Thread-safety: none; owned by the single rules-evaluation thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/binary_file.h"
#include "rules/finding.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

struct StormConfig {
  double factor = 3.0;              // learned: open when rate >= max(floor, factor * expected)
  double provisional_factor = 6.0;  // provisional: the same with this factor
  double floor_per_hour = 60;       // no storm below this rate, whatever the baseline
  double ceiling_per_hour = 0;      // a storm at or above this rate in any state; 0 = none
  // Clear when rate < clear_ratio * threshold; rates between neither open nor clear.
  double clear_ratio = 0.7;
  int64_t min_duration_ms =
      10 * kMsPerMinute;              // the open (and clear) condition must hold this long
  double profile_half_life_days = 7;  // visits of an hour that halve an old day's weight
  int64_t profile_min_coverage_ms = 30 * kMsPerMinute;  // an hour's slot is known after this
  int64_t level_half_life_ms = 2 * kMsPerHour;
  int64_t warmup_ms = 2 * kMsPerHour;         // the level is warm after this much learned time
  int64_t plateau_after_ms = 6 * kMsPerHour;  // whole hours, 1 h to 7 d
  double plateau_tolerance = 0.2;
  // The sliding window the caller measures rates over (the Poisson allowance of the plateau).
  int64_t rate_window_ms = 5 * kMsPerMinute;
  size_t max_scopes = 20000;  // bounded; new scopes beyond are counted and ignored

  // factor >= 1, provisional_factor >= factor, floor >= 0, ceiling 0 or > floor, 0 < clear_ratio
  // <= 1, durations >= 0, half-lives > 0, rate window > 0, 0 < plateau_tolerance < 1,
  // max_scopes > 0.
  absl::Status Validate() const;
  bool operator==(const StormConfig&) const = default;
};

struct StormScope {
  std::string key;  // e.g. "area=Eastern category=voltage"; also the finding's scope
  AreaId area = kUnknownArea;
  std::string region;  // comms region name, "" when not regional
  std::string label;   // human: "Eastern voltage alerts"
};

// What a scope's threshold rests on at an observation.
enum class StormBasis : uint8_t { kLearning = 0, kProvisional = 1, kLearned = 2 };
const char* StormBasisName(StormBasis b);  // "learning", "provisional", "learned"
inline constexpr int kStormBasisCount = 3;

class StormDetector {
 public:
  // `c` must be valid (StormConfig::Validate); aborts otherwise (configuration is validated at
  // load time).
  explicit StormDetector(StormConfig c);

  // One observation per scope per evaluation tick (typically 1 minute apart; may be irregular or
  // jump). `hour_of_day` (0-23) is the local hour of `now`; `rate_per_hour` is the scope's current
  // rate, computed by the caller from a sliding window; negative rates count as 0, NaN is ignored.
  // Opens, updates and closes the scope's kStorm finding in `book`.
  void Observe(EventTime now, int hour_of_day, const StormScope& scope, double rate_per_hour,
               FindingBook& book);

  struct ScopeState {
    StormScope scope;
    // The recent level (per hour) and the learned time behind it.
    double level = 0;
    int64_t level_ms = 0;
    bool level_any = false;
    // The time-of-day profile (per hour) and each slot's learned time.
    std::array<double, 24> profile{};
    std::array<int64_t, 24> profile_ms{};
    // Hours whose slot is known (bit h): observed for profile_min_coverage_ms in a visit that has
    // ended, so an hour is never judged against itself on its first visit.
    uint32_t known_hours_mask = 0;
    // As of the last observation.
    StormBasis basis = StormBasis::kLearning;
    double expected = 0;   // the rate the baseline expected (0 while learning)
    double threshold = 0;  // the opening threshold (0 = none: learning and no ceiling)
    double last_rate = 0;
    int last_hour = 0;
    EventTime last_observed{0};
    // The storm, or the burst that may become one.
    bool storming = false;
    bool ceiling = false;  // the storm (or burst) is the ceiling's, not the baseline's
    std::optional<EventTime> open_since;   // open condition holding since (quiet or storming)
    std::optional<EventTime> clear_since;  // while storming: clear condition holding since
    double open_threshold = 0;             // the threshold the storm opened at
    double open_expected = 0;              // what the baseline expected then
    StormBasis open_basis = StormBasis::kLearning;
    double peak = 0;         // highest rate of the current storm
    std::string finding_id;  // "" when not storming
    // The storm's hours for the plateau policy: the mean rate of each whole hour since it
    // opened (the last plateau_after_ms / 1 h of them), and the hour being filled: its start,
    // the time-weighted sum of rates and the time behind it.
    std::vector<double> storm_hours;
    std::optional<EventTime> hour_start;
    double hour_sum = 0;
    int64_t hour_ms = 0;
    double plateau_mean = 0;  // the mean of storm_hours once they make a plateau

    int known_hours() const { return __builtin_popcount(known_hours_mask); }
    bool hour_known(int h) const { return (known_hours_mask >> h) & 1u; }
  };
  // The scope's state, or null. Valid until the next Observe.
  const ScopeState* Find(const std::string& key) const;
  // Every scope, by key.
  std::vector<const ScopeState*> Scopes() const;
  // Scopes in each state as of their last observation (index: StormBasis).
  std::array<size_t, kStormBasisCount> CountByBasis() const;

  size_t scope_count() const { return scopes_.size(); }
  // Observe calls refused because max_scopes scopes were already tracked (one per call).
  uint64_t dropped_scopes() const { return dropped_scopes_; }
  // Observations older than the scope's previous one (ignored).
  uint64_t out_of_order() const { return out_of_order_; }
  // Storms closed by the plateau policy (their level became the new normal).
  uint64_t plateaus_accepted() const { return plateaus_accepted_; }
  const StormConfig& config() const { return config_; }

  // Every scope's state (baselines, open storms) and the counters, for the evaluator's
  // checkpoint, after a fingerprint of the settings and layout they were taken under.
  void SaveState(BinaryWriter& w) const;
  // Replaces the state with what SaveState wrote. Taken under other settings or another layout:
  // FailedPrecondition, the state unchanged (the caller skips the rest of the part). Malformed
  // (including a scope area beyond `area_count`, the area table's size): DataLoss, the reader
  // failed and the state unchanged.
  absl::Status LoadState(BinaryReader& r, size_t area_count);

  // The learned baselines alone (level and profile per scope, no storm), for seeding another
  // detector (`smetsmon replay --baselines-out`).
  void SaveBaselines(BinaryWriter& w) const;
  // Adds the baselines of a SaveBaselines to scopes this detector has not observed yet (scopes it
  // knows keep theirs), up to max_scopes. Learned under other learning settings (half-lives,
  // warm-up, coverage): FailedPrecondition. Malformed: DataLoss. Either way nothing changes.
  // Returns the number of scopes seeded through `seeded`.
  absl::Status SeedBaselines(BinaryReader& r, size_t area_count, size_t* seeded);

 private:
  std::string Fingerprint() const;
  std::string LearningFingerprint() const;
  bool Warm(const ScopeState& s) const { return s.level_ms >= config_.warmup_ms; }
  // Sets s.basis, s.expected and s.threshold for an observation in `hour`.
  void Assess(ScopeState& s, int hour) const;
  void Learn(ScopeState& s, int64_t dt_ms, int hour, double rate) const;
  // Adds the observation to the storm's hours; whether they now make a plateau.
  bool ExtendPlateau(ScopeState& s, EventTime now, int64_t dt_ms, double rate) const;
  void AcceptPlateau(ScopeState& s) const;
  void EndStorm(ScopeState& s);
  void Publish(const ScopeState& s, EventTime now, FindingBook& book, bool plateau) const;

  StormConfig config_;
  absl::flat_hash_map<std::string, ScopeState> scopes_;
  uint64_t dropped_scopes_ = 0;
  uint64_t out_of_order_ = 0;
  uint64_t plateaus_accepted_ = 0;
};

}  // namespace smetsmon::rules
