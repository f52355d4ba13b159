// Area power outages and communications incidents, from the outage-related alerts: the comms
// hub's AD1 (power outage, "last gasp") and the meters' 8F35 (supply restored) / 8F36 (restored
// after an outage of 3 minutes or more). The hub and the meters of one premises have different
// device ids but share the premises' MPAN, so signals are matched by a premises key.
//
// Per premises the tracker keeps its latest outage episode (start, restoration, whether it was a
// long interruption, the area outage it belongs to). Per area it looks for a cluster of outage
// starts; per comms region, for a flood of restorations that no outage explains.
//
// Power outage (kPowerOutage, per area). Opens when at least min_premises distinct premises of one
// area started an outage within any window_ms (and, when the area's installation count is known,
// at least min_share of them). Starts up to window_ms + allowed_lateness_ms behind the evaluation
// time are considered, so starts delivered late or out of order still count. The outage's start is
// the first start of the densest such window; every premises of the area whose outage starts at
// or after it (including starts delivered later, while the outage is open) is affected. A
// restoration is long if its code says so (8F36) or it came long_interruption_ms or more after the
// premises' start. Closes when close_restored_share of the affected premises are restored (end =
// the latest restoration), or when restorations have begun and no new start or restoration came
// for close_quiet_ms (end = the last of them; the unrestored count is reported), or when it is
// max_outage_age_ms old. Starts up to the end of a closed outage belong to it and do not open a
// new one.
//
// Final tally. Closing at 95 % restored (or quiet, or by age) says the power is back, not how
// many premises were cut and restored: the rest of the restorations, and AD1s delivered late,
// arrive afterwards. For final_tally_after_ms after its end a closed outage goes on counting them
// (a restoration of a premises it affected, stamped up to end + final_tally_after_ms; a late AD1
// stamped between its start and end, which adds an affected premises), and its closed finding is
// updated with each evaluation (Tally::kCounting, figures as now plus those at close). At the first
// evaluation at or after end + final_tally_after_ms its figures are final (Tally::kFinal); what
// arrives later is not counted. A new outage in the same area does not end the tally of the
// previous one (at most kMaxCountingPerArea closed outages of an area count at once; the oldest is
// ended early beyond that, counted). The unrestored premises of a counting outage are kept until
// its tally ends even when older than max_outage_age_ms (they still count toward max_premises,
// whose evictions are counted, those of such premises also in tally_premises_evicted).
//
// Communications incident (kCommsIncident, per comms region). Opens when, among the region's
// restorations of the last window_ms, at least comms_min_restorations are unmatched and at most
// comms_max_matched_share of them are matched. A restoration is matched when its premises has an
// outage start at or before it (a late AD1 matches retroactively), or when its area has a power
// outage open at that time (a restoration flood inside a power outage is not a comms incident,
// even from premises whose AD1 never arrived). Closes when the unmatched count falls below half of
// comms_min_restorations (end = that evaluation's time).
//
// Time domain: event time. Add takes signals in any order; Evaluate(now) takes the evaluator's
// stream time and decides on everything added so far, so a replay gives the live findings.
// Memory: at most max_premises premises (the oldest eighth is evicted, and counted, when full;
// ~40 bytes each), premises forgotten max_outage_age_ms after their last signal (or when the tally
// they are held for ends), per-area and per-region signal lists trimmed to the window (and capped
// at max_premises entries each), per area at most kMaxCountingPerArea closed outages counting.
// Thread-safety: none; owned by the single rules-evaluation thread. The AreaTable must outlive the
// tracker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "base/binary_file.h"
#include "catalog/areas.h"
#include "rules/finding.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

struct OutageSignal {
  enum class Kind : uint8_t { kStart, kRestored, kRestoredLong };  // AD1, 8F35, 8F36
  uint64_t premises = 0;  // MPAN if the event had one, else the device id (caller decides)
  uint64_t device = 0;
  AreaId area = kUnknownArea;
  EventTime time{0};
  Kind kind = Kind::kStart;
};

struct OutageConfig {
  int64_t window_ms = 5 * kMsPerMinute;  // "within a few minutes"
  uint32_t min_premises = 25;  // distinct premises starting an outage within window, in one area
  double min_share = 0.0;      // ... and at least this share of the area's installations (if known)
  double close_restored_share = 0.95;  // close when this share of affected premises restored...
  // ...or no new starts and no restorations for this long after the last restoration (the
  // unrestored count is reported then).
  int64_t close_quiet_ms = 15 * kMsPerMinute;
  int64_t long_interruption_ms = 3 * kMsPerMinute;
  // Unmatched restorations (no outage for the premises) within window in one comms region...
  uint32_t comms_min_restorations = 200;
  // ...and at most this share of that region's restorations in the window matched an outage.
  double comms_max_matched_share = 0.2;
  int64_t max_outage_age_ms = 48 * kMsPerHour;  // premises outages older than this are forgotten
  size_t max_premises = 2'000'000;              // tracked premises cap (evictions counted)
  // Outage starts this far behind window_ms before the evaluation time still count toward opening
  // an area outage.
  int64_t allowed_lateness_ms = 5 * kMsPerMinute;
  // Restorations (and late AD1s) this long after a closed outage's end still count toward its
  // figures; then they are final. 0: final at close.
  int64_t final_tally_after_ms = 24 * kMsPerHour;

  // Positive window, age and premises cap; min_premises >= 1; shares in [0, 1]; durations >= 0
  // (final_tally_after_ms at most 30 days).
  absl::Status Validate() const;
};

class OutageTracker {
 public:
  // `c` must be valid (OutageConfig::Validate); aborts otherwise. installations_per_area: index =
  // AreaId value; 0 or missing = unknown.
  OutageTracker(OutageConfig c, const catalog::AreaTable& areas,
                std::vector<uint64_t> installations_per_area);

  // Signals may arrive somewhat out of order (late by minutes). A signal with an unknown area
  // (or one outside the table) still matches its premises but opens nothing; it is counted. A
  // signal more than max_outage_age_ms older than the newest time seen is dropped and counted.
  void Add(const OutageSignal& s);
  // Opens, updates and closes kPowerOutage and kCommsIncident findings as of `now`, and updates
  // the closed kPowerOutage findings still counting (FindingBook::UpdateClosed) until final.
  void Evaluate(EventTime now, FindingBook& book);
  // Takes a new final_tally_after_ms (a rules reload): for outages closing from now on.
  void set_final_tally_after_ms(int64_t ms) { config_.final_tally_after_ms = ms; }

  // Closed outages of an area that count at once; beyond, the oldest one's tally ends early.
  static constexpr size_t kMaxCountingPerArea = 8;

  struct AreaStatus {
    uint64_t open_outage_premises = 0;  // premises of the area with an unrestored outage start
    bool outage_open = false;           // a kPowerOutage is open for the area
    // Of the open outage, else of the area's last closed one (0 when it never had one).
    uint64_t affected = 0;
    uint64_t restored = 0;
    uint64_t long_interruptions = 0;
  };
  AreaStatus Status(AreaId a) const;

  size_t tracked_premises() const { return premises_.size(); }
  uint64_t evicted() const { return evicted_; }  // premises dropped by the max_premises cap
  uint64_t expired() const { return expired_; }  // premises forgotten after max_outage_age_ms
  // Signals too old on arrival, and list entries refused because a list was at its cap.
  uint64_t dropped_signals() const { return dropped_signals_; }
  uint64_t unknown_area_signals() const { return unknown_area_signals_; }
  // Closed outages whose tally is still counting (all areas).
  size_t counting_outages() const;
  // Premises held for a counting tally that the max_premises cap evicted (also in evicted()), and
  // tallies ended early because an area had more than kMaxCountingPerArea counting.
  uint64_t tally_premises_evicted() const { return tally_premises_evicted_; }
  uint64_t tallies_cut_short() const { return tallies_cut_short_; }

  // Everything tracked (premises, per-area starts and outages, per-region restorations and
  // incidents, serials, counters), for the evaluator's checkpoint, after a fingerprint of the
  // settings and the area table it was tracked under.
  void SaveState(BinaryWriter& w) const;
  // Replaces the state with what SaveState wrote. Taken under other settings (those whose change
  // makes Evaluator::Reload restart the tracker) or another area table (areas are indices here):
  // FailedPrecondition, the bytes consumed and the state unchanged. Of another layout (the
  // fingerprint's first field; 2 since the final tally): FailedPrecondition after the
  // fingerprint, the rest unread (the evaluator's part framing skips it), the state unchanged.
  // Malformed: DataLoss, the reader failed and the state unchanged. A state over max_premises is
  // taken as it is (the cap applies again from the next new premises).
  absl::Status LoadState(BinaryReader& r);

 private:
  std::string Fingerprint() const;
  struct Premises {
    int64_t start_ms = 0;    // outage start (AD1), valid when has_start
    int64_t restore_ms = 0;  // first restoration, valid when restored
    uint32_t outage = 0;     // serial of the area outage it is affected by, 0 = none
    AreaId area = kUnknownArea;
    bool has_start = false;
    bool restored = false;
    bool long_interruption = false;
  };
  struct Stamp {
    int64_t ms = 0;
    uint64_t premises = 0;
  };
  struct Restoration {
    int64_t ms = 0;
    uint64_t premises = 0;
    AreaId area = kUnknownArea;
  };
  enum class CloseReason : uint8_t { kNone, kRestored, kQuiet, kAge };
  struct AreaOutage {     // the area's open outage, else its last closed one
    uint32_t serial = 0;  // 0 = the area never had one
    bool open = false;
    int64_t start_ms = 0;
    int64_t end_ms = 0;  // when closed
    uint64_t affected = 0;
    uint64_t restored = 0;
    uint64_t long_interruptions = 0;
    int64_t last_start_ms = 0;
    int64_t last_restore_ms = 0;
    std::string id;
    // When closed: why, the figures then, and the tally (counting: late data counts up to
    // tally_until_ms; the tally exists when final_tally_after_ms was > 0 at close).
    CloseReason reason = CloseReason::kNone;
    bool has_tally = false;
    bool counting = false;
    int64_t tally_until_ms = 0;
    uint64_t affected_at_close = 0;
    uint64_t restored_at_close = 0;
    uint64_t long_at_close = 0;
  };
  struct AreaState {
    std::vector<Stamp> starts;  // unattached starts within the detection horizon
    bool starts_sorted = true;
    uint64_t open_premises = 0;
    AreaOutage outage;
    // Closed outages before `outage` whose tally is still counting (oldest first); one that
    // stopped counting is published final once and dropped.
    std::vector<AreaOutage> earlier;
  };
  struct RegionState {
    std::vector<Restoration> restorations;  // within the window
    bool open = false;
    int64_t start_ms = 0;
    uint64_t peak_unmatched = 0;
    std::string id;
  };

  AreaId Known(AreaId a) const;
  void AddStart(const OutageSignal& s);
  void AddRestoration(const OutageSignal& s);
  void OnNewStart(uint64_t key, Premises& p);
  void Attach(Premises& p, AreaOutage& o) const;
  // The outage `p` is attached to if it is open or still counting, else null.
  AreaOutage* CountingOutage(const Premises& p);
  // Whether a restoration at `ms` counts toward `o` (open, or within its tally).
  static bool Counts(const AreaOutage& o, int64_t ms) {
    return o.open || (o.counting && ms <= o.tally_until_ms);
  }
  Premises& Insert(uint64_t key);
  void Forget(const Premises& p);
  void ExpireOld(int64_t now_ms);
  void EvictOldest();
  bool Explained(const Restoration& r) const;
  void EvaluateArea(size_t i, EventTime now, FindingBook& book);
  void OpenAreaOutage(size_t i, int64_t start_ms);
  Finding AreaOutageFinding(size_t i, const AreaOutage& o, EventTime now) const;
  static void SaveOutage(BinaryWriter& w, const AreaOutage& o);
  static AreaOutage LoadOutage(BinaryReader& r);
  void EvaluateTallies(size_t i, EventTime now, FindingBook& book);
  void EvaluateRegion(size_t r, EventTime now, FindingBook& book);

  OutageConfig config_;
  const catalog::AreaTable& areas_table_;
  std::vector<uint64_t> installations_;
  std::vector<AreaState> areas_;
  std::vector<RegionState> regions_;
  absl::flat_hash_map<uint64_t, Premises> premises_;
  int64_t latest_ms_;  // newest signal or evaluation time seen
  int64_t last_sweep_ms_;
  uint32_t next_serial_ = 1;
  uint64_t evicted_ = 0;
  uint64_t expired_ = 0;
  uint64_t dropped_signals_ = 0;
  uint64_t unknown_area_signals_ = 0;
  uint64_t tally_premises_evicted_ = 0;
  uint64_t tallies_cut_short_ = 0;
};

}  // namespace smetsmon::rules
