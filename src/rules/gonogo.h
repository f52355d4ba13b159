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
// Time domain: event time. Nothing here reads a clock; `now` is an argument, and the daily
// decision instant is local wall time (LocalCalendar), so a replay decides at the same instants.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/binary_file.h"
#include "rules/london_time.h"
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
};

// Startup validation (configuration lane): ids non-empty and unique, metric non-empty, finite
// thresholds ordered consistently with the direction (amber <= red when higher is worse, amber >=
// red when lower is worse), hour 0-23, minute 0-59, a timezone name. The message names the
// criterion ("gonogo criterion 'x' (#2): ...").
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
};

struct CriterionResult {
  std::string id, metric, explanation, detail;
  double value = 0, amber = 0, red = 0;
  bool lower_is_worse = false;
  bool available = false;
  Rag rag = Rag::kUnknown;
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
};

// The RAG of one value against thresholds (exposed for tests and the API). NaN -> kUnknown.
Rag ClassifyRag(double value, double amber, double red, bool lower_is_worse);

// Evaluates every criterion against `inputs` at `now` (stamped with the local date/time of
// `calendar`). A metric missing from inputs, not available, or NaN makes its criterion kUnknown;
// the overall is computed from the available criteria, raised from green to amber if any is
// unknown; no criteria, or none with data, gives kUnknown. Pure function.
GoNoGoResult EvaluateGoNoGo(const GoNoGoConfig& config, const LocalCalendar& calendar,
                            const GoNoGoInputs& inputs, EventTime now, bool daily);

// One result in full (criteria, notes, per-DMC and per-area rows), for the evaluator's checkpoint
// state: the API and the reports show the history, so it comes back exactly (doubles bit for bit).
void SaveGoNoGoResult(BinaryWriter& w, const GoNoGoResult& r);
// What SaveGoNoGoResult wrote; on malformed bytes the reader fails (check r.ok()).
GoNoGoResult LoadGoNoGoResult(BinaryReader& r);

// The daily decision: due once per local day at the configured decision time; keeps a bounded
// history (writing each decision to files is the report module's: report/gonogo_report.h).
//
// Time domain: event time (the caller passes its stream time as `now`); a replay of a day decides
// at the same instants as the live stream.
// Thread-safety: single-threaded, owned by the rules evaluator; history() returns a reference
// that only that thread may read.
class DailyDecision {
 public:
  // `config` should have passed ValidateGoNoGoConfig; `calendar` is its timezone.
  DailyDecision(GoNoGoConfig config, LocalCalendar calendar);

  // True when `now` has reached the next decision instant (the caller then evaluates with
  // daily=true and calls Record). The first call only arms the schedule: the first decision is the
  // first decision instant strictly after the first `now` seen. If `now` jumps over several
  // decision instants (a replay gap), it is due once and the schedule moves past `now`. A `now`
  // earlier than one already seen is never due.
  bool Due(EventTime now);

  // Appends `r` to the history (oldest dropped beyond history_kept).
  void Record(const GoNoGoResult& r);
  // A reloaded configuration (same time zone): keeps the history; if the decision time changed,
  // the schedule re-arms from the next call to Due.
  void Reconfigure(GoNoGoConfig config);

  const std::deque<GoNoGoResult>& history() const { return history_; }
  std::optional<EventTime> next_due() const { return next_due_; }
  const GoNoGoConfig& config() const { return config_; }
  const LocalCalendar& calendar() const { return calendar_; }

  // The history and the schedule, for the evaluator's checkpoint, after a fingerprint of what the
  // schedule depends on (time zone, decision time).
  void SaveState(BinaryWriter& w) const;
  // Replaces the history (trimmed to history_kept) and the schedule with what SaveState wrote.
  // The history is a record of decisions taken and always comes back; a schedule taken under
  // another time zone or decision time does not (as Reconfigure does, the schedule re-arms from
  // the next call to Due) and `*schedule_rearmed` (if given) says so. Malformed: DataLoss, the
  // reader failed and the state unchanged.
  absl::Status LoadState(BinaryReader& r, bool* schedule_rearmed = nullptr);

 private:
  std::string Fingerprint() const;
  GoNoGoConfig config_;
  LocalCalendar calendar_;
  std::optional<EventTime> next_due_;
  std::deque<GoNoGoResult> history_;
};

}  // namespace smetsmon::rules
