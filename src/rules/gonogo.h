// SMETS1 migration Go/No-Go. DCC operations decide every morning whether the day's SMETS1
// migrations go ahead; the OPSG accepted migration risk only "given the continuous monitoring" of
// alerts and asked that migration be slowed, paused or stopped if SMETS1 alert levels grow. This
// module turns configured criteria (a metric and its amber/red thresholds) into a RAG per
// criterion and an overall recommendation, with the per-DMC and per-area figures behind it, as
// JSON (for the API) and as a plain-text report an operator can send to the SEC Operations Group.
//
// Missing data is never "go": a criterion without data is unknown, and an overall that would be
// green with any criterion unknown is amber, with a note naming the missing data.
//
// The daily decision is what the OPSG's LSC table records: per criterion its RAG, why, and what
// changed since the previous decision (its RAG and value then). An operator may override the RAG
// of a criterion or of the overall (GoNoGoOverride): the override belongs to the latest daily
// decision, is kept with it in the history, and never replaces the computed RAG, which stays
// next to the effective one.
//
// Time domain: event time. Nothing here reads a clock; `now` is an argument, and the daily
// decision instant is local wall time (LocalCalendar), so a replay decides at the same instants.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/binary_file.h"
#include "rules/london_time.h"
#include "rules/migration_load.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

enum class Rag : uint8_t { kGreen = 0, kAmber = 1, kRed = 2, kUnknown = 3 };
const char* RagName(Rag r);  // "green", "amber", "red", "unknown"

struct CriterionConfig {
  std::string id;           // e.g. "smets1_alerts_per_installation"
  std::string metric;       // name of a metric in GoNoGoInputs::metrics
  std::string explanation;  // why this matters, for the report
  double amber = 0, red = 0;
  // Default: higher values are worse (value >= amber -> amber, >= red -> red). If true, lower
  // values are worse (value <= amber -> amber, <= red -> red). Thresholds are inclusive.
  bool lower_is_worse = false;
};

struct GoNoGoConfig {
  std::vector<CriterionConfig> criteria;
  int decision_hour = 6, decision_minute = 0;  // local time of the daily decision
  std::string timezone = "Europe/London";
  std::string history_dir;   // "" = keep history in memory only
  size_t history_kept = 90;  // decisions kept in memory
  // kWorst: the worst RAG of the available criteria. kMajority: the RAG most available criteria
  // have, ties -> the worse.
  enum class Overall { kWorst, kMajority } overall = Overall::kWorst;
  // Migration load (rules/migration_load.h): installations younger than this many days are
  // "recent" (sizes the per-event classification: a change needs a restart), and the planned
  // migration volume the projection assumes (0 = not set: the projection is unavailable).
  int32_t recent_days = 30;
  uint64_t planned_installations_per_day = 0;
};

// Startup validation (configuration lane): ids non-empty, unique and not "overall", metric
// non-empty, finite thresholds ordered consistently with the direction (amber <= red when higher
// is worse, amber >= red when lower is worse), hour 0-23, minute 0-59, a timezone name. The
// message names the criterion ("gonogo criterion 'x' (#2): ...").
absl::Status ValidateGoNoGoConfig(const GoNoGoConfig& config);

struct MetricValue {
  double value = 0;
  bool available = false;
  std::string detail;  // e.g. "412,311 alerts / 180,000 installations"
};
struct DmcRow {
  std::string dmc;
  uint64_t installations = 0;
  uint64_t alerts_24h = 0;
  uint64_t noisy_devices = 0;
};
struct AreaRow {
  std::string area, dno_group, region;
  uint64_t smets1_alerts_24h = 0;
  uint64_t dno_flood_alerts_24h = 0;
  uint64_t dno_flood_threshold = 0;
  uint64_t open_findings = 0;
};
struct GoNoGoInputs {
  std::map<std::string, MetricValue> metrics;
  std::vector<DmcRow> dmcs;    // reported in this order
  std::vector<AreaRow> areas;  // reported in this order
  MigrationLoad migration;     // the figures behind the projected_smets1_* metrics
};

// The same criterion (or the overall) in the previous daily decision: what the LSC table's
// "since yesterday" column compares with.
struct PreviousRag {
  bool present = false;     // the previous decision had this criterion (false: none, or it is new)
  Rag rag = Rag::kUnknown;  // its effective RAG (an override then, if there was one)
  bool overridden = false;
  bool available = false;  // it had data (criteria only)
  double value = 0;        // its value when available (criteria only)
};

// An operator's override of one criterion's RAG, or of the overall RAG, in a daily decision (the
// OPSG may accept a red for a known cause, or hold the migration on a green). It applies to the
// latest daily decision at the time it is recorded and is kept with it; the next decision is
// computed afresh. The latest override of a criterion is the one in effect.
struct GoNoGoOverride {
  std::string criterion;    // a criterion id, or kOverallCriterion
  Rag rag = Rag::kUnknown;  // green, amber or red
  std::string reason;       // why (required)
  std::string by;           // who, free text (required)
  // When it was recorded: wall-clock (processing) time, for the record only; decisions and their
  // schedule are event time.
  int64_t recorded_at_ms = 0;
};
inline constexpr const char* kOverallCriterion = "overall";
// Bounds on an override (the API refuses beyond them).
inline constexpr size_t kMaxOverrideReason = 2000;
inline constexpr size_t kMaxOverrideBy = 200;
inline constexpr size_t kMaxOverridesPerDecision = 100;

struct CriterionResult {
  std::string id, metric, explanation, detail;
  double value = 0, amber = 0, red = 0;
  bool lower_is_worse = false;
  bool available = false;
  Rag rag = Rag::kUnknown;        // computed from the value; an override never changes it
  Rag effective = Rag::kUnknown;  // the RAG in force: `rag`, or the latest override's
  bool overridden = false;
  PreviousRag previous;  // daily decisions only
};
struct GoNoGoResult {
  EventTime at{0};
  std::string local_date;  // "YYYY-MM-DD" of `at` in the configured zone
  std::string local_time;  // "HH:MM:SS BST" of `at`
  bool daily = false;  // true for the recorded daily decision, false for a continuous evaluation
  std::vector<CriterionResult> criteria;  // in configuration order
  Rag overall = Rag::kUnknown;
  // Green: "go"; Amber: "go with caution: slow the migration"; Red: "pause the migration";
  // Unknown: "no recommendation: ..." (no criteria, or no criterion had data).
  std::string recommendation;
  std::vector<std::string> notes;  // e.g. "2 criteria had no data: ..."
  std::vector<DmcRow> dmcs;
  std::vector<AreaRow> areas;
  MigrationLoad migration;  // recent vs established installations and the projection

  // In force after the operators' overrides (equal to overall/recommendation without any): the
  // overall's override, else the overall of the criteria's effective RAGs by the same rule.
  Rag effective_overall = Rag::kUnknown;
  std::string effective_recommendation;
  bool overall_overridden = false;
  std::vector<GoNoGoOverride> overrides;  // every override recorded, oldest first

  // The previous daily decision (daily decisions only): its local date ("" = none, the first)
  // and its effective overall.
  std::string previous_date;
  PreviousRag previous_overall;
};

// How a criterion's (or the overall's) effective RAG moved since the previous daily decision.
enum class RagChange : uint8_t {
  kNoPrevious,  // the first decision in the history
  kNew,         // the criterion was not in the previous decision
  kUnchanged,
  kBetter,   // e.g. red -> amber
  kWorse,    // e.g. green -> amber
  kChanged,  // to or from unknown (no data)
};
const char* RagChangeName(RagChange c);  // "no_previous", "new", "unchanged", "better", ...
RagChange ChangeSincePrevious(const GoNoGoResult& r, const CriterionResult& c);
RagChange OverallChangeSincePrevious(const GoNoGoResult& r);

// The overall of `rags` by `mode`, as EvaluateGoNoGo decides it: worst (or majority, ties to the
// worse) of the known RAGs, raised from green to amber when any is unknown; unknown when none is
// known or `rags` is empty.
Rag CombineRags(GoNoGoConfig::Overall mode, const std::vector<Rag>& rags);

// Green: "go"; amber: "go with caution: slow the migration"; red: "pause the migration".
std::string RecommendationFor(Rag r);

// The latest override of `criterion` (an id or kOverallCriterion) in `r`, or null.
const GoNoGoOverride* LatestOverride(const GoNoGoResult& r, const std::string& criterion);

// Checks an override against the decision it would apply to: criterion known (an id of
// `decision`, or "overall"), RAG green/amber/red, reason and `by` not blank and within bounds,
// fewer than kMaxOverridesPerDecision already. InvalidArgument (or ResourceExhausted) saying what
// is wrong.
absl::Status ValidateOverride(const GoNoGoOverride& o, const GoNoGoResult& decision);

// The RAG of one value against thresholds (exposed for tests and the API). NaN -> kUnknown.
Rag ClassifyRag(double value, double amber, double red, bool lower_is_worse);

// Evaluates every criterion against `inputs` at `now` (stamped with the local date/time of
// `calendar`). A metric missing from inputs, not available, or NaN makes its criterion kUnknown;
// the overall is computed from the available criteria, raised from green to amber if any is
// unknown; no criteria, or none with data, gives kUnknown. Pure function.
GoNoGoResult EvaluateGoNoGo(const GoNoGoConfig& config, const LocalCalendar& calendar,
                            const GoNoGoInputs& inputs, EventTime now, bool daily);

// One result (criteria, notes, per-DMC and per-area rows; not the overrides and the previous
// decision's figures, which DailyDecision's state adds), for the evaluator's checkpoint state: the
// API and the reports show the history, so it comes back exactly (doubles bit for bit).
void SaveGoNoGoResult(BinaryWriter& w, const GoNoGoResult& r);
// What SaveGoNoGoResult wrote (effective RAGs equal to the computed ones); on malformed bytes the
// reader fails (check r.ok()).
GoNoGoResult LoadGoNoGoResult(BinaryReader& r);

// The daily decision: due once per local day at the configured decision time; keeps a bounded
// history, each decision linked to the one before it ("since yesterday"), and the operators'
// overrides of the latest one (writing each decision to files is the report module's:
// report/gonogo_report.h).
//
// Time domain: event time (the caller passes its stream time as `now`); a replay of a day decides
// at the same instants as the live stream. An override's recorded_at is processing time, given.
// Thread-safety: Due, Record, Reconfigure, SaveState and LoadState are the owner's (the rules
// thread). The history is guarded by a mutex held for in-memory work only, so Override (the HTTP
// io thread) and history()/Latest() (copies) may be called from any thread, concurrently with
// the owner.
class DailyDecision {
 public:
  // `config` should have passed ValidateGoNoGoConfig; `calendar` is its timezone.
  DailyDecision(GoNoGoConfig config, LocalCalendar calendar);
  DailyDecision(DailyDecision&& other) noexcept;
  DailyDecision& operator=(DailyDecision&& other) noexcept;

  // True when `now` has reached the next decision instant (the caller then evaluates with
  // daily=true and calls Record). The first call only arms the schedule: the first decision is the
  // first decision instant strictly after the first `now` seen. If `now` jumps over several
  // decision instants (a replay gap), it is due once and the schedule moves past `now`. A `now`
  // earlier than one already seen is never due.
  bool Due(EventTime now);

  // Appends `r` to the history (oldest dropped beyond history_kept), linked to the previous
  // decision (PreviousRag of each criterion and the overall, previous_date), and returns what was
  // recorded (what the history files should show).
  GoNoGoResult Record(const GoNoGoResult& r);
  // A reloaded configuration (same time zone): keeps the history; if the decision time changed,
  // the schedule re-arms from the next call to Due.
  void Reconfigure(GoNoGoConfig config);

  // Records an operator's override on the latest decision (ValidateOverride; FailedPrecondition
  // when no daily decision has been taken yet) and recomputes its effective RAGs (the overall by
  // the configured rule, unless the overall itself is overridden). Returns the decision as it now
  // stands. Any thread.
  absl::StatusOr<GoNoGoResult> Override(GoNoGoOverride o);

  // Copies, oldest first; any thread.
  std::vector<GoNoGoResult> history() const;
  std::optional<GoNoGoResult> Latest() const;
  std::optional<EventTime> next_due() const { return next_due_; }
  const GoNoGoConfig& config() const { return config_; }
  const LocalCalendar& calendar() const { return calendar_; }

  // The history and the schedule, for the evaluator's checkpoint, after a fingerprint of the
  // layout (kStateLayout) and of what the schedule depends on (time zone, decision time).
  void SaveState(BinaryWriter& w) const;
  // Replaces the history (trimmed to history_kept) and the schedule with what SaveState wrote, in
  // this layout or the previous one (1: decisions without overrides or links, which are linked
  // again on load). The history is a record of decisions taken and always comes back; a schedule
  // taken under another time zone or decision time does not (as Reconfigure does, the schedule
  // re-arms from the next call to Due) and `*schedule_rearmed` (if given) says so. Malformed:
  // DataLoss, the reader failed and the state unchanged; a layout this build does not know:
  // FailedPrecondition, the state unchanged.
  absl::Status LoadState(BinaryReader& r, bool* schedule_rearmed = nullptr);
  // 2: each decision followed by its effective RAGs, its link to the previous one, its
  // overrides and its migration load. 1: decisions only.
  static constexpr uint32_t kStateLayout = 2;

 private:
  std::string Fingerprint(uint32_t layout) const;
  GoNoGoConfig config_;
  LocalCalendar calendar_;
  std::optional<EventTime> next_due_;
  mutable std::mutex mu_;  // guards history_ (and config_.overall/history_kept, read under it)
  std::deque<GoNoGoResult> history_;
};

}  // namespace smetsmon::rules
