#include "rules/gonogo.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rules/format.h"
#include "rules/state_io.h"

namespace smetsmon::rules {

using state_io::GetBool;
using state_io::GetCount;
using state_io::GetEnum;
using state_io::GetOptionalTime;
using state_io::GetTime;
using state_io::kMaxFingerprint;
using state_io::kMaxText;
using state_io::PutBool;
using state_io::PutCount;
using state_io::PutEnum;
using state_io::PutOptionalTime;
using state_io::PutTime;

namespace {

// Bounds on the counts of a state: far beyond any configuration or fleet (a few criteria, tens
// of DMCs, 14 areas, 90 decisions kept by default).
constexpr uint64_t kMaxStateRows = 1 << 16;
constexpr uint64_t kMaxStateHistory = 1 << 20;

constexpr const char* kRecommendationGreen = "go";
constexpr const char* kRecommendationAmber = "go with caution: slow the migration";
constexpr const char* kRecommendationRed = "pause the migration";

const char* Recommendation(Rag r) {
  switch (r) {
    case Rag::kGreen:
      return kRecommendationGreen;
    case Rag::kAmber:
      return kRecommendationAmber;
    case Rag::kRed:
      return kRecommendationRed;
    case Rag::kUnknown:
      break;
  }
  return "no recommendation";
}

// "%g" of a threshold for messages: "2.5", "180000".
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string Plural(size_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

}  // namespace

const char* RagName(Rag r) {
  switch (r) {
    case Rag::kGreen:
      return "green";
    case Rag::kAmber:
      return "amber";
    case Rag::kRed:
      return "red";
    case Rag::kUnknown:
      return "unknown";
  }
  return "unknown";
}

absl::Status ValidateGoNoGoConfig(const GoNoGoConfig& config) {
  if (config.decision_hour < 0 || config.decision_hour > 23) {
    return absl::InvalidArgumentError(
        absl::StrCat("gonogo decision_hour ", config.decision_hour, " is not 0-23"));
  }
  if (config.decision_minute < 0 || config.decision_minute > 59) {
    return absl::InvalidArgumentError(
        absl::StrCat("gonogo decision_minute ", config.decision_minute, " is not 0-59"));
  }
  if (config.timezone.empty()) {
    return absl::InvalidArgumentError("gonogo timezone is empty (e.g. \"Europe/London\")");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < config.criteria.size(); ++i) {
    const CriterionConfig& c = config.criteria[i];
    const std::string where = c.id.empty()
                                  ? absl::StrCat("gonogo criterion #", i + 1)
                                  : absl::StrCat("gonogo criterion '", c.id, "' (#", i + 1, ")");
    if (c.id.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": id is empty"));
    if (!seen.insert(c.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": id is used by an earlier criterion; ids must be unique"));
    }
    if (c.metric.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": metric is empty"));
    }
    if (!std::isfinite(c.amber) || !std::isfinite(c.red)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": amber and red must be finite numbers"));
    }
    if (!c.lower_is_worse && c.amber > c.red) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": amber ", Num(c.amber), " is above red ", Num(c.red),
                       "; with higher values worse, amber must be <= red (or set lower_is_worse)"));
    }
    if (c.lower_is_worse && c.amber < c.red) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": amber ", Num(c.amber), " is below red ", Num(c.red),
                       "; with lower values worse (lower_is_worse), amber must be >= red"));
    }
  }
  return absl::OkStatus();
}

Rag ClassifyRag(double value, double amber, double red, bool lower_is_worse) {
  if (std::isnan(value)) return Rag::kUnknown;
  if (lower_is_worse) {
    if (value <= red) return Rag::kRed;
    if (value <= amber) return Rag::kAmber;
    return Rag::kGreen;
  }
  if (value >= red) return Rag::kRed;
  if (value >= amber) return Rag::kAmber;
  return Rag::kGreen;
}

GoNoGoResult EvaluateGoNoGo(const GoNoGoConfig& config, const LocalCalendar& calendar,
                            const GoNoGoInputs& inputs, EventTime now, bool daily) {
  GoNoGoResult r;
  r.at = now;
  r.local_date = calendar.LocalDate(now);
  r.local_time = calendar.LocalTimeOfDay(now);
  r.daily = daily;
  r.dmcs = inputs.dmcs;
  r.areas = inputs.areas;

  std::array<size_t, 3> count{};  // green, amber, red among available criteria
  std::vector<std::string> missing;
  for (const CriterionConfig& c : config.criteria) {
    CriterionResult cr;
    cr.id = c.id;
    cr.metric = c.metric;
    cr.explanation = c.explanation;
    cr.amber = c.amber;
    cr.red = c.red;
    cr.lower_is_worse = c.lower_is_worse;
    auto it = inputs.metrics.find(c.metric);
    if (it == inputs.metrics.end()) {
      cr.detail = "no data: metric not reported";
    } else if (!it->second.available) {
      cr.detail = it->second.detail.empty() ? "no data" : "no data: " + it->second.detail;
    } else if (std::isnan(it->second.value)) {
      cr.detail = "no data: value is not a number";
    } else {
      cr.available = true;
      cr.value = it->second.value;
      cr.detail = it->second.detail;
      cr.rag = ClassifyRag(cr.value, c.amber, c.red, c.lower_is_worse);
      ++count[static_cast<size_t>(cr.rag)];
    }
    if (!cr.available) missing.push_back(absl::StrCat(c.id, " (metric ", c.metric, ")"));
    r.criteria.push_back(std::move(cr));
  }

  const size_t available = count[0] + count[1] + count[2];
  if (config.criteria.empty()) {
    r.overall = Rag::kUnknown;
    r.recommendation = "no recommendation: no Go/No-Go criteria are configured";
    r.notes.push_back("no Go/No-Go criteria are configured");
    return r;
  }
  if (!missing.empty()) {
    r.notes.push_back(absl::StrCat(Plural(missing.size(), "criterion", "criteria"),
                                   " had no data: ", absl::StrJoin(missing, ", ")));
  }
  if (available == 0) {
    r.overall = Rag::kUnknown;
    r.recommendation = "no recommendation: no criterion had data";
    r.notes.push_back("no criterion had data: the monitor cannot advise on today's migrations");
    return r;
  }

  Rag worst = Rag::kGreen;
  for (size_t i = 0; i < 3; ++i) {
    if (count[i] > 0) worst = static_cast<Rag>(i);
  }
  Rag overall = worst;
  if (config.overall == GoNoGoConfig::Overall::kMajority) {
    // Scan from worst to best so that a tie keeps the worse RAG.
    size_t best_count = 0;
    for (int i = 2; i >= 0; --i) {
      if (count[static_cast<size_t>(i)] > best_count) {
        best_count = count[static_cast<size_t>(i)];
        overall = static_cast<Rag>(i);
      }
    }
    if (overall != worst) {
      std::vector<std::string> worse_ids;
      for (const CriterionResult& cr : r.criteria) {
        if (cr.available && cr.rag > overall) worse_ids.push_back(cr.id);
      }
      r.notes.push_back(absl::StrCat("majority rule: overall is ", RagName(overall), " although ",
                                     Plural(worse_ids.size(), "criterion is", "criteria are"),
                                     " worse: ", absl::StrJoin(worse_ids, ", ")));
    }
  }
  if (overall == Rag::kGreen && !missing.empty()) {
    overall = Rag::kAmber;
    r.notes.push_back(
        "overall raised from green to amber because data is missing: the monitor does not say "
        "\"go\" without all its data");
  }
  r.overall = overall;
  r.recommendation = Recommendation(overall);
  return r;
}

DailyDecision::DailyDecision(GoNoGoConfig config, LocalCalendar calendar)
    : config_(std::move(config)), calendar_(std::move(calendar)) {}

bool DailyDecision::Due(EventTime now) {
  if (!next_due_) {
    next_due_ = calendar_.NextDailyAt(now, config_.decision_hour, config_.decision_minute);
    return false;
  }
  if (now < *next_due_) return false;
  next_due_ = calendar_.NextDailyAt(now, config_.decision_hour, config_.decision_minute);
  return true;
}

void DailyDecision::Reconfigure(GoNoGoConfig config) {
  const bool moved = config.decision_hour != config_.decision_hour ||
                     config.decision_minute != config_.decision_minute;
  config_ = std::move(config);
  if (moved) next_due_.reset();
  while (history_.size() > config_.history_kept) history_.pop_front();
}

void DailyDecision::Record(const GoNoGoResult& r) {
  history_.push_back(r);
  while (history_.size() > config_.history_kept) history_.pop_front();
}

// ---- Checkpoint state --------------------------------------------------------------------

void SaveGoNoGoResult(BinaryWriter& w, const GoNoGoResult& r) {
  PutTime(w, r.at);
  w.String(r.local_date);
  w.String(r.local_time);
  PutBool(w, r.daily);
  PutCount(w, r.criteria.size());
  for (const CriterionResult& c : r.criteria) {
    w.String(c.id);
    w.String(c.metric);
    w.String(c.explanation);
    w.String(c.detail);
    w.Pod<double>(c.value);
    w.Pod<double>(c.amber);
    w.Pod<double>(c.red);
    PutBool(w, c.lower_is_worse);
    PutBool(w, c.available);
    PutEnum(w, c.rag);
  }
  PutEnum(w, r.overall);
  w.String(r.recommendation);
  PutCount(w, r.notes.size());
  for (const std::string& n : r.notes) w.String(n);
  PutCount(w, r.dmcs.size());
  for (const DmcRow& d : r.dmcs) {
    w.String(d.dmc);
    w.Pod<uint64_t>(d.installations);
    w.Pod<uint64_t>(d.alerts_24h);
    w.Pod<uint64_t>(d.noisy_devices);
  }
  PutCount(w, r.areas.size());
  for (const AreaRow& a : r.areas) {
    w.String(a.area);
    w.String(a.dno_group);
    w.String(a.region);
    w.Pod<uint64_t>(a.smets1_alerts_24h);
    w.Pod<uint64_t>(a.dno_flood_alerts_24h);
    w.Pod<uint64_t>(a.dno_flood_threshold);
    w.Pod<uint64_t>(a.open_findings);
  }
}

GoNoGoResult LoadGoNoGoResult(BinaryReader& r) {
  constexpr auto kMaxRag = static_cast<uint8_t>(Rag::kUnknown);
  GoNoGoResult out;
  out.at = GetTime(r);
  out.local_date = r.String(kMaxText);
  out.local_time = r.String(kMaxText);
  out.daily = GetBool(r);
  const uint64_t n_criteria = GetCount(r, kMaxStateRows);
  for (uint64_t i = 0; i < n_criteria && r.ok(); ++i) {
    CriterionResult& c = out.criteria.emplace_back();
    c.id = r.String(kMaxText);
    c.metric = r.String(kMaxText);
    c.explanation = r.String(kMaxText);
    c.detail = r.String(kMaxText);
    c.value = r.Pod<double>();
    c.amber = r.Pod<double>();
    c.red = r.Pod<double>();
    c.lower_is_worse = GetBool(r);
    c.available = GetBool(r);
    c.rag = GetEnum<Rag>(r, kMaxRag);
  }
  out.overall = GetEnum<Rag>(r, kMaxRag);
  out.recommendation = r.String(kMaxText);
  const uint64_t n_notes = GetCount(r, kMaxStateRows);
  for (uint64_t i = 0; i < n_notes && r.ok(); ++i) out.notes.push_back(r.String(kMaxText));
  const uint64_t n_dmcs = GetCount(r, kMaxStateRows);
  for (uint64_t i = 0; i < n_dmcs && r.ok(); ++i) {
    DmcRow& d = out.dmcs.emplace_back();
    d.dmc = r.String(kMaxText);
    d.installations = r.Pod<uint64_t>();
    d.alerts_24h = r.Pod<uint64_t>();
    d.noisy_devices = r.Pod<uint64_t>();
  }
  const uint64_t n_areas = GetCount(r, kMaxStateRows);
  for (uint64_t i = 0; i < n_areas && r.ok(); ++i) {
    AreaRow& a = out.areas.emplace_back();
    a.area = r.String(kMaxText);
    a.dno_group = r.String(kMaxText);
    a.region = r.String(kMaxText);
    a.smets1_alerts_24h = r.Pod<uint64_t>();
    a.dno_flood_alerts_24h = r.Pod<uint64_t>();
    a.dno_flood_threshold = r.Pod<uint64_t>();
    a.open_findings = r.Pod<uint64_t>();
  }
  return out;
}

// What the schedule (next_due_) depends on.
std::string DailyDecision::Fingerprint() const {
  return state_io::Fingerprint()
      .Pod<uint32_t>(1)  // the fingerprint's own layout
      .String(config_.timezone)
      .Pod<int32_t>(config_.decision_hour)
      .Pod<int32_t>(config_.decision_minute)
      .Take();
}

void DailyDecision::SaveState(BinaryWriter& w) const {
  w.String(Fingerprint());
  PutOptionalTime(w, next_due_);
  PutCount(w, history_.size());
  for (const GoNoGoResult& r : history_) SaveGoNoGoResult(w, r);
}

absl::Status DailyDecision::LoadState(BinaryReader& r, bool* schedule_rearmed) {
  const std::string fingerprint = r.String(kMaxFingerprint);
  const std::optional<EventTime> next_due = GetOptionalTime(r);
  std::deque<GoNoGoResult> history;
  const uint64_t n = GetCount(r, kMaxStateHistory);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    GoNoGoResult result = LoadGoNoGoResult(r);
    if (r.ok()) history.push_back(std::move(result));
    while (history.size() > config_.history_kept) history.pop_front();
  }
  if (!r.ok()) return absl::DataLossError("Go/No-Go state: truncated or malformed");
  const bool same_schedule = fingerprint == Fingerprint();
  if (schedule_rearmed != nullptr) *schedule_rearmed = !same_schedule;
  next_due_ = same_schedule ? next_due : std::nullopt;
  history_ = std::move(history);
  return absl::OkStatus();
}

}  // namespace smetsmon::rules
