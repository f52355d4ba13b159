// Interned labels (DMC names, cohort names) shared by every thread, with a bounded capacity so a
// stream of junk labels cannot grow memory or metric cardinality.
//
// Ids: 0 = not given, 1 = overflow (table full: counted, label "other"), 2.. = interned.
// Thread-safety: SymbolTable is internally locked; the lock is taken only on a miss in a
// thread's SymbolCache (once per distinct label per thread), never per event in steady state.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace smetsmon::catalog {

class SymbolTable {
 public:
  static constexpr uint16_t kNone = 0;
  static constexpr uint16_t kOverflow = 1;

  // `capacity` counts real labels (ids 2..capacity+1).
  SymbolTable(std::string kind, size_t capacity);

  uint16_t Intern(std::string_view label);
  // Stable for the table's lifetime.
  std::string_view Name(uint16_t id) const;
  // Id of an already interned label, or kNone.
  uint16_t Find(std::string_view label) const;
  // Ids in use, including 0 and 1: arrays indexed by id need size id_limit().
  size_t id_limit() const { return capacity_ + 2; }
  size_t size() const;
  // Interned ids (2..) ordered by name: ids are given in the order labels are first seen, which
  // depends on which thread saw one first, so anything listed for people goes by name.
  std::vector<uint16_t> IdsByName() const;
  uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }
  const std::string& kind() const { return kind_; }

 private:
  struct ViewHash {
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::string kind_;
  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<std::string> names_;  // stable storage; names_[i] has id i
  absl::flat_hash_map<std::string_view, uint16_t, ViewHash> ids_;
  std::atomic<uint64_t> overflowed_{0};
};

// A thread's lock-free front for a SymbolTable. Not thread-safe: one per decoding thread.
// A small direct-mapped cache keyed by a cheap hash of the label's length and edge bytes sits in
// front of the hash map: a fleet has few distinct DMC and cohort labels, so nearly every lookup
// ends there without hashing the whole label.
class SymbolCache {
 public:
  explicit SymbolCache(SymbolTable& table) : table_(&table) {}
  uint16_t Intern(std::string_view label) {
    Recent& recent = recent_[RecentSlot(label)];
    if (recent.label.data() != nullptr && recent.label == label) return recent.id;
    const auto it = cache_.find(label);
    if (it != cache_.end()) {
      recent = {it->first, it->second};
      return it->second;
    }
    const uint16_t id = table_->Intern(label);
    if (id != SymbolTable::kOverflow) {
      const std::string_view stored = table_->Name(id);
      cache_.emplace(stored, id);
      recent = {stored, id};
    }
    return id;
  }

 private:
  static constexpr size_t kRecentSlots = 64;
  struct Recent {
    std::string_view label;  // points into the table's stable storage
    uint16_t id = 0;
  };
  static size_t RecentSlot(std::string_view s) {
    uint64_t h = s.size();
    if (s.size() >= 8) {
      uint64_t head, tail;
      std::memcpy(&head, s.data(), 8);
      std::memcpy(&tail, s.data() + s.size() - 8, 8);
      h ^= head * 0x9E3779B97F4A7C15ULL ^ tail;
    } else {
      for (char c : s) h = h * 131 + static_cast<unsigned char>(c);
    }
    h *= 0x9E3779B97F4A7C15ULL;
    return static_cast<size_t>(h >> 58);  // 6 bits: kRecentSlots
  }

  SymbolTable* table_;
  std::array<Recent, kRecentSlots> recent_{};
  absl::flat_hash_map<std::string_view, uint16_t> cache_;  // absl::Hash: far cheaper than std
};

}  // namespace smetsmon::catalog
