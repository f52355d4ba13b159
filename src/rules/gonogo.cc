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
    if (c.id == kOverallCriterion) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": id \"overall\" is reserved for the overall RAG (metrics, overrides)"));
    }
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

namespace {

// The computed result (EvaluateGoNoGo sets the effective RAGs from it).
GoNoGoResult EvaluateComputed(const GoNoGoConfig& config, const LocalCalendar& calendar,
                              const GoNoGoInputs& inputs, EventTime now, bool daily) {
  GoNoGoResult r;
  r.at = now;
  r.local_date = calendar.LocalDate(now);
  r.local_time = calendar.LocalTimeOfDay(now);
  r.daily = daily;
  r.dmcs = inputs.dmcs;
  r.areas = inputs.areas;
  r.migration = inputs.migration;

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

// Effective RAGs from the computed ones and the overrides (the latest of each criterion wins; an
// overall override wins over the criteria's; without one, criteria overrides recombine by `mode`).
void ApplyOverrides(GoNoGoConfig::Overall mode, GoNoGoResult& r) {
  bool any_criterion = false;
  std::vector<Rag> effective;
  for (CriterionResult& c : r.criteria) {
    const GoNoGoOverride* o = LatestOverride(r, c.id);
    c.overridden = o != nullptr;
    c.effective = o != nullptr ? o->rag : c.rag;
    any_criterion |= c.overridden;
    effective.push_back(c.effective);
  }
  const GoNoGoOverride* overall = LatestOverride(r, kOverallCriterion);
  r.overall_overridden = overall != nullptr;
  r.effective_overall = overall != nullptr ? overall->rag
                        : any_criterion    ? CombineRags(mode, effective)
                                           : r.overall;
  r.effective_recommendation =
      r.effective_overall == r.overall ? r.recommendation : RecommendationFor(r.effective_overall);
}

PreviousRag PreviousOf(const CriterionResult& c) {
  return PreviousRag{true, c.effective, c.overridden, c.available, c.value};
}

// Links `r` to `previous` (null: the first decision).
void LinkPrevious(const GoNoGoResult* previous, GoNoGoResult& r) {
  r.previous_date.clear();
  r.previous_overall = {};
  for (CriterionResult& c : r.criteria) c.previous = {};
  if (previous == nullptr) return;
  r.previous_date = previous->local_date;
  r.previous_overall = {true, previous->effective_overall, previous->overall_overridden, false, 0};
  for (CriterionResult& c : r.criteria) {
    for (const CriterionResult& p : previous->criteria) {
      if (p.id == c.id) c.previous = PreviousOf(p);
    }
  }
}

RagChange Change(bool has_previous, const PreviousRag& prev, Rag now) {
  if (!has_previous) return RagChange::kNoPrevious;
  if (!prev.present) return RagChange::kNew;
  if (prev.rag == now) return RagChange::kUnchanged;
  if (prev.rag == Rag::kUnknown || now == Rag::kUnknown) return RagChange::kChanged;
  return now > prev.rag ? RagChange::kWorse : RagChange::kBetter;
}

}  // namespace

GoNoGoResult EvaluateGoNoGo(const GoNoGoConfig& config, const LocalCalendar& calendar,
                            const GoNoGoInputs& inputs, EventTime now, bool daily) {
  GoNoGoResult r = EvaluateComputed(config, calendar, inputs, now, daily);
  ApplyOverrides(config.overall, r);
  return r;
}

Rag CombineRags(GoNoGoConfig::Overall mode, const std::vector<Rag>& rags) {
  std::array<size_t, 3> count{};
  size_t unknown = 0;
  for (Rag r : rags) {
    if (r == Rag::kUnknown) {
      ++unknown;
    } else {
      ++count[static_cast<size_t>(r)];
    }
  }
  if (count[0] + count[1] + count[2] == 0) return Rag::kUnknown;
  Rag overall = Rag::kGreen;
  for (size_t i = 0; i < 3; ++i) {
    if (count[i] > 0) overall = static_cast<Rag>(i);
  }
  if (mode == GoNoGoConfig::Overall::kMajority) {
    size_t best = 0;
    for (int i = 2; i >= 0; --i) {  // worst first: a tie keeps the worse
      if (count[static_cast<size_t>(i)] > best) {
        best = count[static_cast<size_t>(i)];
        overall = static_cast<Rag>(i);
      }
    }
  }
  if (overall == Rag::kGreen && unknown > 0) overall = Rag::kAmber;
  return overall;
}

std::string RecommendationFor(Rag r) { return Recommendation(r); }

const GoNoGoOverride* LatestOverride(const GoNoGoResult& r, const std::string& criterion) {
  for (auto it = r.overrides.rbegin(); it != r.overrides.rend(); ++it) {
    if (it->criterion == criterion) return &*it;
  }
  return nullptr;
}

const char* RagChangeName(RagChange c) {
  switch (c) {
    case RagChange::kNoPrevious:
      return "no_previous";
    case RagChange::kNew:
      return "new";
    case RagChange::kUnchanged:
      return "unchanged";
    case RagChange::kBetter:
      return "better";
    case RagChange::kWorse:
      return "worse";
    case RagChange::kChanged:
      return "changed";
  }
  return "changed";
}

RagChange ChangeSincePrevious(const GoNoGoResult& r, const CriterionResult& c) {
  return Change(!r.previous_date.empty(), c.previous, c.effective);
}

RagChange OverallChangeSincePrevious(const GoNoGoResult& r) {
  return Change(!r.previous_date.empty(), r.previous_overall, r.effective_overall);
}

absl::Status ValidateOverride(const GoNoGoOverride& o, const GoNoGoResult& decision) {
  const auto blank = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
  };
  bool known = o.criterion == kOverallCriterion;
  std::vector<std::string> ids;
  for (const CriterionResult& c : decision.criteria) {
    known |= c.id == o.criterion;
    ids.push_back(c.id);
  }
  ids.push_back(kOverallCriterion);
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat("unknown criterion '", o.criterion,
                                                   "': the decision of ", decision.local_date,
                                                   " has ", absl::StrJoin(ids, ", ")));
  }
  if (o.rag != Rag::kGreen && o.rag != Rag::kAmber && o.rag != Rag::kRed) {
    return absl::InvalidArgumentError("rag must be green, amber or red");
  }
  if (blank(o.reason)) return absl::InvalidArgumentError("reason is empty: say why");
  if (o.reason.size() > kMaxOverrideReason) {
    return absl::InvalidArgumentError(
        absl::StrCat("reason is longer than ", kMaxOverrideReason, " bytes"));
  }
  if (blank(o.by)) return absl::InvalidArgumentError("by is empty: say who decided");
  if (o.by.size() > kMaxOverrideBy) {
    return absl::InvalidArgumentError(absl::StrCat("by is longer than ", kMaxOverrideBy, " bytes"));
  }
  if (decision.overrides.size() >= kMaxOverridesPerDecision) {
    return absl::ResourceExhaustedError(absl::StrCat("the decision of ", decision.local_date,
                                                     " already has ", kMaxOverridesPerDecision,
                                                     " overrides"));
  }
  return absl::OkStatus();
}

DailyDecision::DailyDecision(GoNoGoConfig config, LocalCalendar calendar)
    : config_(std::move(config)), calendar_(std::move(calendar)) {}

DailyDecision::DailyDecision(DailyDecision&& other) noexcept
    : calendar_(std::move(other.calendar_)) {
  std::lock_guard lock(other.mu_);
  config_ = std::move(other.config_);
  next_due_ = other.next_due_;
  history_ = std::move(other.history_);
}

DailyDecision& DailyDecision::operator=(DailyDecision&& other) noexcept {
  if (this == &other) return *this;
  std::scoped_lock lock(mu_, other.mu_);
  config_ = std::move(other.config_);
  calendar_ = std::move(other.calendar_);
  next_due_ = other.next_due_;
  history_ = std::move(other.history_);
  return *this;
}

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
  std::lock_guard lock(mu_);
  const bool moved = config.decision_hour != config_.decision_hour ||
                     config.decision_minute != config_.decision_minute;
  config_ = std::move(config);
  if (moved) next_due_.reset();
  while (history_.size() > config_.history_kept) history_.pop_front();
}

GoNoGoResult DailyDecision::Record(const GoNoGoResult& r) {
  std::lock_guard lock(mu_);
  GoNoGoResult recorded = r;
  LinkPrevious(history_.empty() ? nullptr : &history_.back(), recorded);
  history_.push_back(recorded);
  while (history_.size() > config_.history_kept) history_.pop_front();
  return recorded;
}

absl::StatusOr<GoNoGoResult> DailyDecision::Override(GoNoGoOverride o) {
  std::lock_guard lock(mu_);
  if (history_.empty()) {
    return absl::FailedPreconditionError(
        "no daily decision has been taken yet: an override applies to the latest daily decision");
  }
  GoNoGoResult& latest = history_.back();
  if (absl::Status s = ValidateOverride(o, latest); !s.ok()) return s;
  latest.overrides.push_back(std::move(o));
  ApplyOverrides(config_.overall, latest);
  return latest;
}

std::vector<GoNoGoResult> DailyDecision::history() const {
  std::lock_guard lock(mu_);
  return {history_.begin(), history_.end()};
}

std::optional<GoNoGoResult> DailyDecision::Latest() const {
  std::lock_guard lock(mu_);
  if (history_.empty()) return std::nullopt;
  return history_.back();
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
  constexpr auto kMaxRagValue = static_cast<uint8_t>(Rag::kUnknown);
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
    c.rag = GetEnum<Rag>(r, kMaxRagValue);
  }
  out.overall = GetEnum<Rag>(r, kMaxRagValue);
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
  for (CriterionResult& c : out.criteria) c.effective = c.rag;
  out.effective_overall = out.overall;
  out.effective_recommendation = out.recommendation;
  return out;
}

namespace {

constexpr auto kMaxRag = static_cast<uint8_t>(Rag::kUnknown);

void SavePrevious(BinaryWriter& w, const PreviousRag& p) {
  PutBool(w, p.present);
  PutEnum(w, p.rag);
  PutBool(w, p.overridden);
  PutBool(w, p.available);
  w.Pod<double>(p.value);
}

PreviousRag LoadPrevious(BinaryReader& r) {
  PreviousRag p;
  p.present = GetBool(r);
  p.rag = GetEnum<Rag>(r, kMaxRag);
  p.overridden = GetBool(r);
  p.available = GetBool(r);
  p.value = r.Pod<double>();
  return p;
}

// What layout 2 adds to each decision after SaveGoNoGoResult: the effective RAGs, the link to the
// previous decision and the overrides (the effective RAGs are kept as decided, not recomputed
// under a later configuration), then its migration load (rules/migration_load.h).
void SaveDecisionExtras(BinaryWriter& w, const GoNoGoResult& r) {
  PutEnum(w, r.effective_overall);
  PutBool(w, r.overall_overridden);
  w.String(r.effective_recommendation);
  w.String(r.previous_date);
  SavePrevious(w, r.previous_overall);
  for (const CriterionResult& c : r.criteria) {  // as many as SaveGoNoGoResult wrote
    PutEnum(w, c.effective);
    PutBool(w, c.overridden);
    SavePrevious(w, c.previous);
  }
  PutCount(w, r.overrides.size());
  for (const GoNoGoOverride& o : r.overrides) {
    w.String(o.criterion);
    PutEnum(w, o.rag);
    w.String(o.reason);
    w.String(o.by);
    w.Pod<int64_t>(o.recorded_at_ms);
  }
  SaveMigrationLoad(w, r.migration);
}

void LoadDecisionExtras(BinaryReader& r, GoNoGoResult& out) {
  out.effective_overall = GetEnum<Rag>(r, kMaxRag);
  out.overall_overridden = GetBool(r);
  out.effective_recommendation = r.String(kMaxText);
  out.previous_date = r.String(kMaxText);
  out.previous_overall = LoadPrevious(r);
  for (CriterionResult& c : out.criteria) {
    if (!r.ok()) break;
    c.effective = GetEnum<Rag>(r, kMaxRag);
    c.overridden = GetBool(r);
    c.previous = LoadPrevious(r);
  }
  const uint64_t n = GetCount(r, kMaxOverridesPerDecision);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    GoNoGoOverride& o = out.overrides.emplace_back();
    o.criterion = r.String(kMaxText);
    o.rag = GetEnum<Rag>(r, kMaxRag);
    o.reason = r.String(kMaxText);
    o.by = r.String(kMaxText);
    o.recorded_at_ms = r.Pod<int64_t>();
  }
  if (r.ok()) out.migration = LoadMigrationLoad(r);
}

}  // namespace

// The layout, then what the schedule (next_due_) depends on.
std::string DailyDecision::Fingerprint(uint32_t layout) const {
  return state_io::Fingerprint()
      .Pod<uint32_t>(layout)
      .String(config_.timezone)
      .Pod<int32_t>(config_.decision_hour)
      .Pod<int32_t>(config_.decision_minute)
      .Take();
}

void DailyDecision::SaveState(BinaryWriter& w) const {
  w.String(Fingerprint(kStateLayout));
  PutOptionalTime(w, next_due_);
  std::lock_guard lock(mu_);
  PutCount(w, history_.size());
  for (const GoNoGoResult& r : history_) {
    SaveGoNoGoResult(w, r);
    SaveDecisionExtras(w, r);
  }
}

absl::Status DailyDecision::LoadState(BinaryReader& r, bool* schedule_rearmed) {
  const std::string fingerprint = r.String(kMaxFingerprint);
  if (!r.ok()) return absl::DataLossError("Go/No-Go state: truncated or malformed");
  // The fingerprint's first field is the layout (the settings' own bytes follow).
  BinaryReader fp = BinaryReader::FromMemory(fingerprint);
  const auto layout = fp.Pod<uint32_t>();
  if (!fp.ok()) return absl::DataLossError("Go/No-Go state: malformed fingerprint");
  if (layout != 1 && layout != kStateLayout) {
    return absl::FailedPreconditionError(
        absl::StrCat("Go/No-Go state: layout ", layout, ", this build reads 1 and ", kStateLayout));
  }
  const std::optional<EventTime> next_due = GetOptionalTime(r);
  std::deque<GoNoGoResult> history;
  const uint64_t n = GetCount(r, kMaxStateHistory);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    GoNoGoResult result = LoadGoNoGoResult(r);
    if (layout == 1) {
      // Decisions from before overrides and links: link each to the one before it, as Record
      // would have.
      LinkPrevious(history.empty() ? nullptr : &history.back(), result);
    } else {
      LoadDecisionExtras(r, result);
    }
    if (r.ok()) history.push_back(std::move(result));
    while (history.size() > config_.history_kept) history.pop_front();
  }
  if (!r.ok()) return absl::DataLossError("Go/No-Go state: truncated or malformed");
  const bool same_schedule =
      fingerprint.substr(sizeof(uint32_t)) == Fingerprint(kStateLayout).substr(sizeof(uint32_t));
  if (schedule_rearmed != nullptr) *schedule_rearmed = !same_schedule;
  next_due_ = same_schedule ? next_due : std::nullopt;
  std::lock_guard lock(mu_);
  history_ = std::move(history);
  return absl::OkStatus();
}

}  // namespace smetsmon::rules
