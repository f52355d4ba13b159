// Alert-storm detection: the current alert rate of one scope (an area x category, or an SMETS1
// DMC x category) far above that scope's own learned baseline, with an absolute floor, hysteresis
// and a minimum duration so that one noisy day does not flap.
//
// Per scope, on every observation (one per evaluation tick):
//
//   threshold  = max(floor_per_hour, factor * baseline)   once the scope is warmed up,
//              = factor * floor_per_hour                   before (no baseline yet).
//   open       when rate >= threshold has held for min_duration_ms (from the first observation at
//              which it held; an observation below the threshold restarts the count). The storm's
//              start is that first observation, and the threshold it opened at is frozen as T.
//   clear      when rate < clear_ratio * T has held for min_duration_ms (an observation at or above
//              clear_ratio * T restarts the count: that is the hysteresis band). The storm's end is
//              the first observation of that quiet stretch.
//   baseline   exponentially weighted moving average of the observed rate with half-life
//              baseline_half_life_hours, each observation weighted by the time since the previous
//              observation of the scope (so irregular ticks and jumps are handled). Only
//              observations taken while the scope is quiet and below the threshold are learned:
//              neither a storm nor a burst that has not (yet) become one moves the baseline.
//              warm-up: the baseline counts only once the learned observations cover warmup_ms.
//
// A permanent level shift (a scope whose normal rate triples for good) therefore stays a storm
// until its rate falls: the baseline never learns a storm. That is the intended trade-off; raise
// the scope's floor or factor if it is the new normal.
//
// The caller observes every known scope on every tick, zero rates included: a scope that is no
// longer observed keeps its state (and an open storm stays open).
//
// Time domain: event time (the evaluator's stream time); an observation older than the scope's
// previous one is ignored and counted. Memory: at most max_scopes scopes; observations of new
// scopes beyond that are refused and counted.
// Thread-safety: none; owned by the single rules-evaluation thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/binary_file.h"
#include "rules/finding.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

struct StormConfig {
  double factor = 3.0;         // open when rate >= max(floor, factor * baseline)
  double floor_per_hour = 60;  // absolute minimum rate for a storm
  // Clear when rate < clear_ratio * T, T being the threshold the storm opened at (frozen while it
  // lasts); rates between clear_ratio * T and T neither open nor clear (hysteresis).
  double clear_ratio = 0.7;
  int64_t min_duration_ms =
      10 * kMsPerMinute;                 // the open (and clear) condition must hold this long
  double baseline_half_life_hours = 24;  // EWMA of the rate, learned only while not storming
  // Until learned observations cover this long, a scope has no baseline and its threshold is
  // factor * floor_per_hour.
  int64_t warmup_ms = 2 * kMsPerHour;
  size_t max_scopes = 20000;  // bounded; new scopes beyond are counted and ignored

  // factor >= 1, floor >= 0, 0 < clear_ratio <= 1, durations >= 0, half-life > 0, max_scopes > 0.
  absl::Status Validate() const;
};

struct StormScope {
  std::string key;  // e.g. "area=Eastern category=voltage"; also the finding's scope
  AreaId area = kUnknownArea;
  std::string region;  // comms region name, "" when not regional
  std::string label;   // human: "Eastern voltage alerts"
};

class StormDetector {
 public:
  // `c` must be valid (StormConfig::Validate); aborts otherwise (configuration is validated at
  // load time).
  explicit StormDetector(StormConfig c);

  // One observation per scope per evaluation tick (typically 1 minute apart; may be irregular or
  // jump). `rate_per_hour` is the scope's current rate, computed by the caller from a sliding
  // window; negative rates count as 0, NaN is ignored. Opens, updates and closes the scope's
  // kStorm finding in `book`.
  void Observe(EventTime now, const StormScope& scope, double rate_per_hour, FindingBook& book);

  struct ScopeState {
    StormScope scope;
    double baseline = 0;     // per hour; meaningful once warmed_up
    bool warmed_up = false;  // learned observations cover warmup_ms
    int64_t learned_ms = 0;  // time covered by learned observations
    bool learned_any = false;
    double threshold = 0;  // the opening threshold as of the last observation
    double last_rate = 0;
    EventTime last_observed{0};
    bool storming = false;
    std::optional<EventTime> open_since;   // open condition holding since (quiet or storming)
    std::optional<EventTime> clear_since;  // while storming: clear condition holding since
    double open_threshold = 0;             // T: the threshold the current storm opened at
    double peak = 0;                       // highest rate of the current storm
    std::string finding_id;                // "" when not storming
  };
  // The scope's state, or null. Valid until the next Observe.
  const ScopeState* Find(const std::string& key) const;

  size_t scope_count() const { return scopes_.size(); }
  // Observe calls refused because max_scopes scopes were already tracked (one per call).
  uint64_t dropped_scopes() const { return dropped_scopes_; }
  // Observations older than the scope's previous one (ignored).
  uint64_t out_of_order() const { return out_of_order_; }

  // Every scope's state (baseline, warm-up, open storm) and the counters, for the evaluator's
  // checkpoint, after a fingerprint of the settings they were learned under.
  void SaveState(BinaryWriter& w) const;
  // Replaces the state with what SaveState wrote. Taken under other settings (a changed factor,
  // floor, clear ratio, duration, half-life, warm-up or scope cap: the ones whose change makes
  // Evaluator::Reload restart the detector): FailedPrecondition, the bytes consumed and the state
  // unchanged. Malformed (including a scope area beyond `area_count`, the area table's size):
  // DataLoss, the reader failed and the state unchanged.
  absl::Status LoadState(BinaryReader& r, size_t area_count);

 private:
  std::string Fingerprint() const;
  double Threshold(const ScopeState& s) const;
  void Learn(ScopeState& s, int64_t dt_ms, double rate) const;
  void Publish(const ScopeState& s, EventTime now, FindingBook& book) const;

  StormConfig config_;
  absl::flat_hash_map<std::string, ScopeState> scopes_;
  uint64_t dropped_scopes_ = 0;
  uint64_t out_of_order_ = 0;
};

}  // namespace smetsmon::rules
