#include "rules/finding.h"

#include <algorithm>

namespace smetsmon::rules {

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
  while (closed_.size() > closed_capacity_) closed_.pop_front();
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

size_t FindingBook::OpenCount(FindingKind k) const {
  size_t n = 0;
  for (const auto& [id, f] : open_) n += f.kind == k;
  return n;
}

}  // namespace smetsmon::rules
