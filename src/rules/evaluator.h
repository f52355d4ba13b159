// The rules evaluator: turns the engine's windows and rule inputs into findings, delivery RAG,
// what-if answers, noisy-device lists and the SMETS1 Go/No-Go (continuous, plus the daily
// decision at the configured local time).
//
// Time domain: event time only. Tick(now) is given the time to evaluate at (the engine's stream
// time); nothing here reads a clock, so a replay gives the findings the live stream gave.
// Thread-safety: Tick runs on one thread (replay's, or the daemon's rules thread). The Report*
// and Snapshot accessors may be called from any thread: they copy what the last evaluation
// published, under a mutex taken once per evaluation (never on the per-event path).
// RecordGoNoGoOverride may be called from any thread (the HTTP io thread): it never waits for an
// evaluation (see there).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "aggregate/engine.h"
#include "base/binary_file.h"
#include "rules/finding.h"
#include "rules/gonogo.h"
#include "rules/london_time.h"
#include "rules/outage.h"
#include "rules/rules_config.h"
#include "rules/storm.h"

namespace smetsmon::rules {

// Delivery within target for one priority class x comms region x window.
struct DeliveryRow {
  std::string priority, region, window;  // window: "1h", "24h", "month"
  uint64_t delivered = 0, within_target = 0;
  double share = 0;         // within / delivered (0 when none delivered)
  Rag rag = Rag::kUnknown;  // against the class's service levels; unknown when none delivered
  int64_t target_ms = 0;
  double target_service_level = 0, minimum_service_level = 0;
  std::vector<uint64_t> latency_buckets;  // counts per bucket (bounds in latency_bounds_ms)
};

// Delivery for one Communication Service Provider x priority class x window, as the SEC's
// Performance Measurement Report gives it: the sums of its regions' rows, judged against the
// class's service levels as a region is (rules/csp_delivery.h).
struct CspDeliveryRow {
  std::string csp;                   // "CSP North"
  std::vector<std::string> regions;  // the comms regions it serves
  DeliveryRow delivery;              // delivery.region is the CSP's name
};

// What a changed voltage acceptance level would have stopped, for one rule x scope.
struct WhatIfRow {
  std::string rule;    // "SMETS1 8F40"
  std::string scope;   // "all", "area=Eastern", "dmc=Honeywell Elster"
  std::string window;  // "1h" or "24h"
  int32_t current_dv = 0;
  uint64_t alerts = 0;  // alerts of the rule carrying a voltage in the window
  std::vector<int32_t> levels_dv;
  std::vector<uint64_t> stopped;  // per level
  std::string sentence;           // "raising the level to 2580 would have stopped X of Y (Z %) ..."
};

struct NoisyRow {
  std::string device_id;  // "00-DB-..."
  std::string area, dmc;
  int generation = 0;
  uint32_t alerts_24h = 0;
  // Its alerts by code over the same 24 h: the top codes (most first), the other known codes
  // together, and the alerts whose code is unknown; they sum to alerts_24h.
  std::vector<std::pair<std::string, uint32_t>> top_codes;
  uint32_t other_codes = 0;
  uint32_t untracked = 0;
};

// One storm scope as the detector last saw it: what its threshold rests on.
struct StormScopeRow {
  std::string scope, label;
  StormBasis basis = StormBasis::kLearning;
  double rate_per_hour = 0, expected_per_hour = 0, threshold_per_hour = 0, level_per_hour = 0;
  int known_hours = 0;  // hours of the day whose usual rate is learned (of 24)
  bool storming = false, ceiling = false;
  EventTime observed_at{0};
};

struct RulesSnapshot {
  EventTime evaluated_at{0};
  std::vector<Finding> open_findings;
  std::vector<Finding> closed_findings;  // newest last, bounded
  std::vector<DeliveryRow> delivery;
  std::vector<CspDeliveryRow> delivery_csp;  // per CSP (rules.yaml `csps`), by window and class
  // The classes the delivery rows were judged against (service levels follow a reload).
  std::vector<PriorityClass> priorities;
  std::vector<WhatIfRow> whatif;
  std::vector<NoisyRow> noisy_top;                                 // the top-K noisiest overall
  std::map<std::string, std::vector<NoisyRow>> noisy_top_by_area;  // top-K per area
  std::map<std::string, std::vector<NoisyRow>> noisy_top_by_dmc;   // top-K per SMETS1 DMC
  uint64_t noisy_devices = 0, noisy_smets1_devices = 0;
  std::vector<std::pair<std::string, uint64_t>> noisy_by_area;
  std::vector<std::pair<std::string, uint64_t>> noisy_by_dmc;
  uint64_t noisy_dropped = 0, noisy_codes_untracked = 0;  // cumulative (aggregate::Readings)
  GoNoGoResult gonogo;                                    // the continuous evaluation
  std::vector<GoNoGoResult> gonogo_history;               // daily decisions, oldest first
  uint64_t outage_signals = 0, outage_signals_dropped = 0;
  std::vector<StormScopeRow> storm_scopes;  // by scope key
  std::array<size_t, kStormBasisCount> storm_basis_counts{};
  uint64_t storm_plateaus_accepted = 0, storm_scopes_dropped = 0;
};

class Evaluator {
 public:
  // `engine` must have been built with BuildRuleInputsSetup(config, ...) as its rule inputs.
  static absl::StatusOr<std::unique_ptr<Evaluator>> Create(aggregate::Engine& engine,
                                                           const RulesConfig& config);

  // Reads the engine itself (its workers stopped, or driven by the calling thread): drains outage
  // signals, and at most once per evaluation interval of event time runs every rule at `now`;
  // `force` evaluates regardless. Tests and single-threaded callers.
  void Tick(EventTime now, bool force = false);
  // The pipeline's way: takes the outage signals of `readings` and, with `evaluate`, runs every
  // rule at readings.at on what they hold (the engine is not read; its workers go on).
  void TickWith(const aggregate::Readings& readings, bool evaluate);

  // SIGHUP: takes a new rules configuration without a restart. Rules evaluated here (thresholds,
  // storms, outages, Go/No-Go) change at once; a detector whose settings changed starts afresh
  // and its open findings close at the last evaluation. What sizes the per-event windows
  // (priority classes and targets, latency buckets, what-if levels, the noisy threshold) is fixed
  // for the engine's life: changing it is refused with the list of what needs a restart. Which
  // class a code belongs to (`class_of_slot`: the catalogue's priorities, the high-priority list)
  // may change; the caller hands the new table to each worker (RuleInputs::SetClassOfSlot).
  // Same thread as Tick.
  absl::Status Reload(const RulesConfig& config);

  // The evaluator's state (findings, storm baselines, the outage tracker, the Go/No-Go history and
  // schedule), for the checkpoint. Same thread as Tick (or with that thread paused).
  //
  // Versioned (kStateVersion first); each part carries a fingerprint of the settings it was taken
  // under. Not included: what an evaluation derives from the engine's windows (delivery, what-if,
  // noisy devices), which the next evaluation recomputes from the engine's own snapshot.
  void SaveState(BinaryWriter& w) const;
  // Restores what SaveState wrote, then publishes it (Snapshot() shows it at once). Parts taken
  // under other settings (a changed rules.yaml: another storm/outage/gonogo configuration) start
  // afresh, as Reload does for a changed detector, with a log line; a malformed state is refused
  // (DataLoss status) and the evaluator is left as freshly created.
  //
  // Storms: the storm settings, the rate window and the excluded categories (what makes Reload
  // restart the detector); their open findings close at the saved last evaluation. Outages: the
  // outage settings Reload compares, and the area table; their open findings close likewise.
  // Go/No-Go: the history always comes back; the schedule only under the same time zone and
  // decision time (else it re-arms, as Reload does). Findings and counters always come back.
  // Same thread as Tick, before the first Tick.
  absl::Status LoadState(BinaryReader& r);
  // 2: each part length-prefixed (a part taken under other settings or another layout restarts
  // alone). Version 1 (before parts were framed) is refused: the rules start afresh.
  static constexpr uint32_t kStateVersion = 2;

  // The storm detector's learned baselines (no storms), for `storms.seed_file` of another run:
  // `smetsmon replay HISTORY --baselines-out FILE`. Same thread as Tick.
  absl::Status WriteStormBaselines(const std::string& path) const;

  RulesSnapshot Snapshot() const;
  // An operator's override of a criterion or the overall RAG of the latest daily decision
  // (DailyDecision::Override: its validation, FailedPrecondition before the first decision).
  // Any thread, at once: applied to the decision history under its own lock and patched into the
  // published snapshot under the snapshot's mutex, both held for in-memory work only (an
  // evaluation holds the snapshot's mutex only to publish), so Snapshot(), the API and the metrics
  // show it on return, and the next checkpoint keeps it. The decision's history files
  // (set_decision_sink) are written again by the rules thread at its next evaluation. Returns the
  // decision as it now stands.
  absl::StatusOr<GoNoGoResult> RecordGoNoGoOverride(GoNoGoOverride o);
  // The fleet views an evaluation reads (Engine::ViewBit), for the readings; any thread.
  uint32_t views_needed() const { return views_needed_.load(std::memory_order_relaxed); }
  // Where each daily decision goes besides the history (its files, report/gonogo_report.h); set
  // by the composition root before the first evaluation. A failure is logged, never fatal.
  using DecisionSink = std::function<absl::Status(const GoNoGoConfig&, const GoNoGoResult&)>;
  void set_decision_sink(DecisionSink sink) { decision_sink_ = std::move(sink); }
  // Daemon: one log line per finding opened or closed and per daily decision (replay: off).
  void set_log_events(bool on) { log_events_ = on; }
  const RulesConfig& config() const { return config_; }
  const catalog::AreaTable& areas() const { return *engine_->ref().areas; }
  // The engine it evaluates (its cumulative counters are read at scrape: the latency histogram).
  const aggregate::Engine& engine() const { return *engine_; }
  const LocalCalendar& calendar() const { return calendar_; }
  uint64_t evaluations() const { return evaluations_.load(std::memory_order_relaxed); }

 private:
  Evaluator(aggregate::Engine& engine, const RulesConfig& config, LocalCalendar calendar);
  static aggregate::View RateView(const RulesConfig& c);
  static uint32_t ViewsFor(const RulesConfig& c);
  void Evaluate(EventTime now);
  std::unique_ptr<OutageTracker> MakeOutageTracker(const OutageConfig& c) const;
  // What the storm state depends on besides StormConfig (the detector's own fingerprint).
  std::string StormContextFingerprint() const;
  // Seeds a detector with no baselines from `storms.seed_file` (if set): a file that cannot be
  // used is an error at startup (Create), a warning when storms restart later (ReseedStorms).
  absl::Status SeedStorms();
  void ReseedStorms();
  void FillStorms(RulesSnapshot* snap) const;
  void ResetState();  // as freshly created
  void PublishRestored(const GoNoGoResult& gonogo, EventTime evaluated_at,
                       uint64_t signals_dropped);
  void CloseOpen(FindingKind kind, const std::string& why);
  void LogFindingChanges();
  void WriteDecision(const GoNoGoResult& decision);  // to the decision sink; a failure is logged
  void EvaluateStorms(EventTime now, const std::vector<uint64_t>& rate_view, double per_hour);
  void EvaluateDnoFloods(EventTime now, const std::vector<uint64_t>& day_view,
                         std::vector<uint64_t>* flood_alerts_by_area, size_t* areas_flooded);
  std::vector<DeliveryRow> BuildDelivery();  // from the readings
  void EvaluateDelivery(EventTime now, const std::vector<DeliveryRow>& rows);
  std::vector<WhatIfRow> BuildWhatIf();
  void EvaluateNoisy(EventTime now, RulesSnapshot* snap);
  GoNoGoInputs BuildGoNoGoInputs(const std::vector<uint64_t>& day_view,
                                 const std::vector<DeliveryRow>& delivery,
                                 const std::vector<uint64_t>& flood_alerts_by_area,
                                 size_t areas_flooded, const RulesSnapshot& snap);

  aggregate::Engine* engine_;
  const aggregate::Readings* readings_ = nullptr;  // during Evaluate only
  RulesConfig config_;
  LocalCalendar calendar_;
  FindingBook book_;
  std::unique_ptr<StormDetector> storms_;
  std::unique_ptr<OutageTracker> outages_;
  DailyDecision daily_;
  int64_t last_eval_ms_ = EventTime::Min().ms;
  int64_t interval_ms_ = kMsPerMinute;
  // Written by the rules thread only, read by the metrics at any time.
  std::atomic<uint64_t> evaluations_{0};
  uint64_t signals_seen_ = 0;
  // Outage signals drained by the last Tick (reused), and the time the tracker last evaluated at.
  std::vector<OutageSignal> drained_;
  int64_t outages_evaluated_ms_ = EventTime::Min().ms;
  std::vector<bool> storm_excluded_;  // by category
  bool log_events_ = false;
  DecisionSink decision_sink_;
  // Set by RecordGoNoGoOverride (any thread): the latest decision's files are stale.
  std::atomic<bool> gonogo_files_pending_{false};
  std::atomic<uint32_t> views_needed_;
  std::set<std::string> logged_open_;  // finding ids open at the last log

  // Guards published_. Taken before daily_'s own lock where both are held (publishing the
  // history, RecordGoNoGoOverride), never after it.
  mutable std::mutex mu_;
  RulesSnapshot published_;
};

}  // namespace smetsmon::rules
