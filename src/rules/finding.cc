#include "rules/finding.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rules/state_io.h"

namespace smetsmon::rules {

using state_io::GetCount;
using state_io::GetEnum;
using state_io::GetOptionalTime;
using state_io::GetTime;
using state_io::kMaxText;
using state_io::PutCount;
using state_io::PutEnum;
using state_io::PutOptionalTime;
using state_io::PutTime;

namespace {

constexpr uint64_t kMaxFindings = 1 << 20;  // per list; a valid book holds far fewer
constexpr uint64_t kMaxFigures = 1 << 12;   // per finding; a handful in practice
// Layout 1 (before findings had a tally) starts with the open count (at most kMaxFindings);
// later layouts start with this tag, then their layout number, so both are told apart.
constexpr uint64_t kLayoutTag = 0x534D'4642'0000'0000ULL;  // "SMFB"
constexpr uint32_t kLayout = 2;

void SaveFinding(BinaryWriter& w, const Finding& f) {
  w.String(f.id);
  PutEnum(w, f.kind);
  PutEnum(w, f.severity);
  w.Pod<uint8_t>(f.area.value);
  w.String(f.region);
  w.String(f.scope);
  PutTime(w, f.start);
  PutOptionalTime(w, f.end);
  w.String(f.explanation);
  PutCount(w, f.figures.size());
  for (const auto& [name, value] : f.figures) {
    w.String(name);
    w.Pod<double>(value);
  }
  PutEnum(w, f.tally);
  PutOptionalTime(w, f.tally_until);
}

Finding LoadFinding(BinaryReader& r, size_t area_count, uint32_t layout) {
  Finding f;
  f.id = r.String(kMaxText);
  f.kind = GetEnum<FindingKind>(r, kFindingKindCount - 1);
  f.severity = GetEnum<Severity>(r, static_cast<uint8_t>(Severity::kCritical));
  f.area = AreaId{r.Pod<uint8_t>()};
  if (f.area != kUnknownArea && f.area.value >= area_count) r.Fail();
  f.region = r.String(kMaxText);
  f.scope = r.String(kMaxText);
  f.start = GetTime(r);
  f.end = GetOptionalTime(r);
  f.explanation = r.String(kMaxText);
  const uint64_t figures = GetCount(r, kMaxFigures);
  for (uint64_t i = 0; i < figures && r.ok(); ++i) {
    std::string name = r.String(kMaxText);
    f.figures[std::move(name)] = r.Pod<double>();
  }
  if (layout >= 2) {
    f.tally = GetEnum<Tally>(r, static_cast<uint8_t>(Tally::kFinal));
    f.tally_until = GetOptionalTime(r);
    // A tally has its end time; an open finding is not counting late data yet.
    if ((f.tally != Tally::kNone) != f.tally_until.has_value()) r.Fail();
    if (f.tally == Tally::kCounting && !f.end.has_value()) r.Fail();
  }
  return f;
}

// Drops the oldest findings whose figures are final down to `capacity`: one still counting would
// never be published final otherwise (the oldest of all goes only when every one is counting).
void TrimHistory(std::deque<Finding>& closed, size_t capacity) {
  while (closed.size() > capacity) {
    auto drop = std::find_if(closed.begin(), closed.end(),
                             [](const Finding& c) { return c.tally != Tally::kCounting; });
    if (drop == closed.end()) drop = closed.begin();
    closed.erase(drop);
  }
}

}  // namespace

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "?";
}

const char* TallyName(Tally t) {
  switch (t) {
    case Tally::kNone:
      return "none";
    case Tally::kCounting:
      return "counting";
    case Tally::kFinal:
      return "final";
  }
  return "?";
}

const char* FindingKindName(FindingKind k) {
  switch (k) {
    case FindingKind::kStorm:
      return "storm";
    case FindingKind::kPowerOutage:
      return "power_outage";
    case FindingKind::kCommsIncident:
      return "comms_incident";
    case FindingKind::kDnoFlood:
      return "dno_flood";
    case FindingKind::kDeliveryBelowMinimum:
      return "delivery_below_minimum";
    case FindingKind::kNoisyDevices:
      return "noisy_devices";
  }
  return "?";
}

void FindingBook::Upsert(Finding f) {
  auto it = open_.find(f.id);
  if (it != open_.end()) {
    f.start = it->second.start;
    f.end.reset();
    it->second = std::move(f);
    return;
  }
  f.end.reset();
  open_.emplace(f.id, std::move(f));
}

void FindingBook::Close(const std::string& id, EventTime end) {
  auto it = open_.find(id);
  if (it == open_.end()) return;
  Finding f = std::move(it->second);
  open_.erase(it);
  f.end = end;
  closed_.push_back(std::move(f));
  TrimHistory(closed_, closed_capacity_);
}

bool FindingBook::UpdateClosed(const Finding& f) {
  for (auto it = closed_.rbegin(); it != closed_.rend(); ++it) {
    if (it->id != f.id) continue;
    it->explanation = f.explanation;
    it->figures = f.figures;
    it->tally = f.tally;
    it->tally_until = f.tally_until;
    return true;
  }
  return false;
}

void FindingBook::EndTallies(FindingKind kind, const std::string& why) {
  for (Finding& f : closed_) {
    if (f.kind != kind || f.tally != Tally::kCounting) continue;
    f.tally = Tally::kFinal;
    absl::StrAppend(&f.explanation, " ", why);
  }
}

const Finding* FindingBook::FindOpen(const std::string& id) const {
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second;
}

const Finding* FindingBook::FindOpenByPrefix(const std::string& prefix) const {
  auto it = open_.lower_bound(prefix);
  if (it == open_.end() || it->first.compare(0, prefix.size(), prefix) != 0) return nullptr;
  return &it->second;
}

std::vector<Finding> FindingBook::Open() const {
  std::vector<Finding> out;
  out.reserve(open_.size());
  for (const auto& [id, f] : open_) out.push_back(f);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return a.start.ms != b.start.ms ? a.start.ms < b.start.ms : a.id < b.id;
  });
  return out;
}

std::vector<Finding> FindingBook::All() const {
  std::vector<Finding> out = Open();
  out.insert(out.end(), closed_.begin(), closed_.end());
  return out;
}

void FindingBook::Save(BinaryWriter& w) const {
  w.Pod<uint64_t>(kLayoutTag);
  w.Pod<uint32_t>(kLayout);
  PutCount(w, open_.size());
  for (const auto& [id, f] : open_) SaveFinding(w, f);
  PutCount(w, closed_.size());
  for (const Finding& f : closed_) SaveFinding(w, f);
}

absl::Status FindingBook::Load(BinaryReader& r, size_t area_count) {
  std::map<std::string, Finding> open;
  std::deque<Finding> closed;
  // Layout 1 has no tag: its first field is the open count.
  uint32_t layout = 1;
  uint64_t n_open = r.Pod<uint64_t>();
  if (r.ok() && n_open == kLayoutTag) {
    layout = r.Pod<uint32_t>();
    if (layout < 2 || layout > kLayout) r.Fail();
    n_open = r.Pod<uint64_t>();
  }
  if (n_open > kMaxFindings) r.Fail();
  for (uint64_t i = 0; i < n_open && r.ok(); ++i) {
    Finding f = LoadFinding(r, area_count, layout);
    // An open finding has no end, and ids are unique (they key the book).
    if (f.end.has_value() || open.count(f.id) != 0) r.Fail();
    if (r.ok()) open.emplace(f.id, std::move(f));
  }
  const uint64_t n_closed = GetCount(r, kMaxFindings);
  for (uint64_t i = 0; i < n_closed && r.ok(); ++i) {
    Finding f = LoadFinding(r, area_count, layout);
    if (!f.end.has_value()) r.Fail();
    if (r.ok()) closed.push_back(std::move(f));
    TrimHistory(closed, closed_capacity_);
  }
  if (!r.ok()) {
    r.Fail();
    return absl::DataLossError("findings: truncated or malformed");
  }
  open_ = std::move(open);
  closed_ = std::move(closed);
  return absl::OkStatus();
}

size_t FindingBook::OpenCount(FindingKind k) const {
  size_t n = 0;
  for (const auto& [id, f] : open_) n += f.kind == k;
  return n;
}

}  // namespace smetsmon::rules
