// The alert catalogue (config/alert_catalogue.yaml): code -> name, category, recipient, the
// set/clear pair and the default northbound priority. Codes missing from it are valid and fall in
// the "other" slot with category "other".
//
// A code's *slot* is its dense index (0..size()-1 for listed codes, size() for "other"); fleet
// windows are arrays over slots, so a lookup is one array read for device codes.
// Immutable after Load(); safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "smetsmon/types.h"

namespace smetsmon::catalog {

using CodeSlot = uint16_t;
using CategoryIndex = uint8_t;
using PriorityIndex = uint8_t;

struct AlertInfo {
  AlertCode code;
  std::string name;
  CategoryIndex category = 0;
  std::string recipient;  // "DNO", "supplier", ...
  AlertCode clears{0};    // for a set alert: the code that clears it (0 = none)
  bool is_clear = false;  // this code clears another
  PriorityIndex priority = 0;
};

class AlertCatalogue {
 public:
  static absl::StatusOr<AlertCatalogue> Load(const std::string& path);

  // For a reload: this (newly loaded) catalogue laid out in `running`'s slots, so windows and
  // tables indexed by slot keep their meaning (entries may be listed in any order). What can
  // change live: names, recipients, set/clear pairs, priorities and the priority list. What
  // changes the window layout is refused with FailedPrecondition naming each change: codes
  // added or removed, a code moved to another category, a different category list. Those need a
  // restart (the snapshot carries the windows over, see Engine::LoadState).
  absl::StatusOr<AlertCatalogue> ReindexedLike(const AlertCatalogue& running) const;
  // Codes (as text) whose entry differs between two catalogues of the same slots.
  static std::vector<std::string> ChangedCodes(const AlertCatalogue& a, const AlertCatalogue& b);

  // Listed codes plus one "other" slot.
  size_t slot_count() const { return size_t{other_slot_} + 1; }
  CodeSlot other_slot() const { return other_slot_; }

  CodeSlot SlotOf(AlertCode code) const {
    if (!code.is_dcc()) return (*device_slots_)[code.value];
    const auto it = dcc_slots_.find(code.value);
    return it == dcc_slots_.end() ? other_slot() : it->second;
  }
  // For slot == other_slot(): category "other", default priority, no code.
  CategoryIndex CategoryOfSlot(CodeSlot slot) const {
    return slot < other_slot_ ? alerts_[slot].category : other_category_;
  }
  const AlertInfo* InfoOfSlot(CodeSlot slot) const {
    return slot < other_slot_ ? &alerts_[slot] : nullptr;
  }
  std::string SlotLabel(CodeSlot slot) const;

  const std::vector<std::string>& categories() const { return categories_; }
  const std::vector<std::string>& priorities() const { return priorities_; }
  const std::vector<AlertInfo>& alerts() const { return alerts_; }
  CategoryIndex other_category() const { return other_category_; }
  PriorityIndex default_priority() const { return default_priority_; }
  // Index of a category by name, or -1.
  int CategoryIndexOf(const std::string& name) const;

 private:
  std::vector<AlertInfo> alerts_;
  std::vector<std::string> categories_;
  std::vector<std::string> priorities_;
  CategoryIndex other_category_ = 0;
  PriorityIndex default_priority_ = 0;
  CodeSlot other_slot_ = 0;                              // = number of listed codes
  std::shared_ptr<std::vector<CodeSlot>> device_slots_;  // 65536 entries, shared by copies
  absl::flat_hash_map<uint32_t, CodeSlot> dcc_slots_;
};

}  // namespace smetsmon::catalog
