// Findings: what the rules conclude from the windows, in words an operator can act on. Each has a
// stable id, a kind, a severity, the area/region it concerns, a start and (once it clears) an end,
// a plain-language explanation with the numbers behind it, and those numbers as figures.
//
// Time domain: event time only (a replay gives the same findings as the live stream).
// Thread-safety: FindingBook is owned by the single rules-evaluation thread; readers get copies.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/binary_file.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

enum class Severity : uint8_t { kInfo = 0, kWarning = 1, kCritical = 2 };
const char* SeverityName(Severity s);  // "info", "warning", "critical"

enum class FindingKind : uint8_t {
  kStorm = 0,  // alert rate of an area x category (or SMETS1 DMC x category) far above its baseline
  kPowerOutage = 1,    // many distinct premises in one area lost supply within minutes
  kCommsIncident = 2,  // restoration flood without preceding outage alerts: not a grid fault
  kDnoFlood = 3,       // an area's DNO receives more alerts of a category per day than agreed
  kDeliveryBelowMinimum = 4,  // share of a priority class delivered within target below the MSL
  kNoisyDevices = 5,          // devices with more than the daily alert threshold in an area
};
inline constexpr int kFindingKindCount = 6;
const char* FindingKindName(FindingKind k);  // "storm", "power_outage", "comms_incident", ...

// Whether a closed finding's figures can still change. Most are final when the finding closes; a
// power outage goes on counting the restorations that arrive after it closed, for
// outages.final_tally_after, so that its figures end up as the final tally of the cut.
enum class Tally : uint8_t {
  kNone = 0,      // no late tally: a closed finding's figures are final at close
  kCounting = 1,  // closed, late data still counts until tally_until
  kFinal = 2,     // closed, the late tally is over (the figures are the final tally)
};
const char* TallyName(Tally t);  // "none", "counting", "final"

struct Finding {
  std::string id;  // stable across evaluations: "<kind>:<scope>:<start ms>"
  FindingKind kind = FindingKind::kStorm;
  Severity severity = Severity::kWarning;
  AreaId area = kUnknownArea;  // kUnknownArea when the finding is regional or national
  std::string region;          // comms region name, "" when national
  std::string scope;           // what it is about, e.g. "area=Eastern category=voltage"
  EventTime start{0};
  std::optional<EventTime> end;           // set when it cleared
  std::string explanation;                // one or two sentences with the numbers
  std::map<std::string, double> figures;  // the numbers, by name (for the API and metrics)
  Tally tally = Tally::kNone;
  std::optional<EventTime> tally_until;  // with a tally: when late data stops counting

  bool open() const { return !end.has_value(); }
  // Closed, and nothing will change its figures any more.
  bool figures_final() const { return end.has_value() && tally != Tally::kCounting; }
};

// Open findings by id plus a bounded history of closed ones (newest last).
class FindingBook {
 public:
  explicit FindingBook(size_t closed_capacity = 1000) : closed_capacity_(closed_capacity) {}

  // Opens a finding (or replaces the open one with the same id, keeping its start).
  void Upsert(Finding f);
  // Closes the open finding `id` at `end` (its explanation/figures may be updated first by
  // Upsert); no-op if not open. The history then drops its oldest findings whose figures are final
  // (one still counting stays until it is final: its tracker bounds how many there are).
  void Close(const std::string& id, EventTime end);
  // A closed finding still counting late data: replaces the explanation, figures, tally and
  // tally_until of the closed finding `f.id` (its start, end and labels stay). False when the
  // history does not hold it.
  bool UpdateClosed(const Finding& f);
  // Every closed finding of `kind` still counting becomes final as it is, `why` appended to its
  // explanation: what counted for it (its tracker) started afresh.
  void EndTallies(FindingKind kind, const std::string& why);
  const Finding* FindOpen(const std::string& id) const;
  // The open finding whose id starts with `prefix` ("<kind>:<scope>:"), if any.
  const Finding* FindOpenByPrefix(const std::string& prefix) const;

  std::vector<Finding> Open() const;  // ordered by start, then id
  const std::deque<Finding>& closed() const { return closed_; }
  std::vector<Finding> All() const;  // open then closed
  size_t open_count() const { return open_.size(); }
  size_t OpenCount(FindingKind k) const;

  // The open findings and the closed history, for the evaluator's checkpoint state.
  void Save(BinaryWriter& w) const;
  // Replaces the contents with what Save wrote (the history trimmed to this book's capacity). On
  // malformed bytes (including an area beyond `area_count`, the area table's size, which readers
  // of findings index by): DataLoss, the reader failed and the book unchanged.
  absl::Status Load(BinaryReader& r, size_t area_count);

 private:
  size_t closed_capacity_;
  std::map<std::string, Finding> open_;
  std::deque<Finding> closed_;
};

}  // namespace smetsmon::rules
