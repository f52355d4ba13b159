// An open-addressing hash map from a 64-bit key to a trivially copyable value, built for tens of
// millions of entries at a high load factor: keys and values live in two separate arrays (probing
// touches only the dense key array, 8 keys per cache line), capacity need not be a power of two
// (so a table can be sized to 90 % full), and memory comes zeroed (base/big_alloc.h: huge pages for
// large tables) so that untouched pages cost no RSS. Linear probing; Erase shifts the entries
// after a removed one back (no tombstones), for tables that forget keys (the device table never
// does: devices are not forgotten).
//
// The key ~0 (the broadcast EUI-64) cannot be stored: an empty slot holds 0, keys are stored
// complemented. Thread-safety: none; one owning thread (see aggregate/worker.h).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "base/big_alloc.h"
#include "smetsmon/status.h"

namespace smetsmon {

inline constexpr uint64_t Mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDULL;
  k ^= k >> 33;
  k *= 0xC4CEB9FE1A85EC53ULL;
  k ^= k >> 33;
  return k;
}

// Maps a uniformly distributed 64-bit hash onto [0, n) without division.
inline constexpr uint64_t FastRange(uint64_t hash, uint64_t n) {
  return static_cast<uint64_t>((static_cast<__uint128_t>(hash) * n) >> 64);
}

template <typename V>
class FlatU64Map {
  static_assert(std::is_trivially_copyable_v<V>, "values are moved with memcpy");

 public:
  static constexpr double kMaxLoad = 0.9;

  explicit FlatU64Map(size_t expected_entries = 1024) { Allocate(CapacityFor(expected_entries)); }
  FlatU64Map(const FlatU64Map&) = delete;
  FlatU64Map& operator=(const FlatU64Map&) = delete;
  FlatU64Map(FlatU64Map&& o) noexcept { *this = std::move(o); }
  FlatU64Map& operator=(FlatU64Map&& o) noexcept {
    std::swap(keys_, o.keys_);
    std::swap(values_, o.values_);
    std::swap(capacity_, o.capacity_);
    std::swap(size_, o.size_);
    std::swap(grow_at_, o.grow_at_);
    return *this;
  }
  ~FlatU64Map() { Free(keys_, values_, capacity_); }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t memory_bytes() const { return capacity_ * (sizeof(uint64_t) + sizeof(V)); }

  // Capacity that holds `n` entries without growing.
  static size_t CapacityFor(size_t n) {
    return std::max<size_t>(16, static_cast<size_t>(static_cast<double>(n) / kMaxLoad) + 1);
  }
  void Reserve(size_t n) {
    if (CapacityFor(n) > capacity_) Rehash(CapacityFor(n));
  }

  void Prefetch(uint64_t key) const {
    __builtin_prefetch(&keys_[FastRange(Mix64(key), capacity_)]);
  }

  // Second stage of a prefetch pipeline: once the key's slot is likely cached (Prefetch was
  // called earlier), finds where its value lives (or would be inserted) and prefetches that.
  // With `max_probe` (a table whose keys are often absent, with probe runs that can be long): at
  // most that many keys are looked at, and only the value of a key found is fetched.
  void PrefetchValue(uint64_t key, size_t max_probe = SIZE_MAX) const {
    const uint64_t stored = ~key;
    size_t i = FastRange(Mix64(key), capacity_);
    for (size_t probed = 1; keys_[i] != stored; i = Next(i), ++probed) {
      if (keys_[i] == 0) {
        if (max_probe != SIZE_MAX) return;
        break;
      }
      if (probed >= max_probe) return;
    }
    // A value may straddle two cache lines: fetch both.
    __builtin_prefetch(&values_[i], 1);
    __builtin_prefetch(reinterpret_cast<const char*>(&values_[i]) + sizeof(V) - 1, 1);
  }

  V* Find(uint64_t key) {
    const uint64_t stored = ~key;
    for (size_t i = FastRange(Mix64(key), capacity_);; i = Next(i)) {
      if (keys_[i] == stored) return &values_[i];
      if (keys_[i] == 0) return nullptr;
    }
  }
  const V* Find(uint64_t key) const { return const_cast<FlatU64Map*>(this)->Find(key); }

  // Returns the value for `key`, inserting a zeroed one if absent (`*inserted` tells which).
  V& FindOrInsert(uint64_t key, bool* inserted) {
    SMETSMON_CHECK(key != ~uint64_t{0});
    const uint64_t stored = ~key;
    size_t i = FastRange(Mix64(key), capacity_);
    for (;; i = Next(i)) {
      if (keys_[i] == stored) {
        *inserted = false;
        return values_[i];
      }
      if (keys_[i] == 0) break;
    }
    if (size_ + 1 > grow_at_) {
      Rehash(capacity_ + capacity_ / 2);
      return FindOrInsert(key, inserted);
    }
    keys_[i] = stored;
    ++size_;
    *inserted = true;
    return values_[i];
  }

  // Removes `key` (false if absent). Each entry after it in the probe run moves back into the
  // hole unless its home slot lies between the hole and it, so every entry stays reachable from
  // its home without tombstones. The freed slot is zeroed (FindOrInsert hands out zeroed values).
  // Moves entries: slot indices and pointers to values are invalidated.
  bool Erase(uint64_t key) {
    const uint64_t stored = ~key;
    size_t hole = FastRange(Mix64(key), capacity_);
    for (; keys_[hole] != stored; hole = Next(hole)) {
      if (keys_[hole] == 0) return false;
    }
    for (size_t j = Next(hole); keys_[j] != 0; j = Next(j)) {
      const size_t home = FastRange(Mix64(~keys_[j]), capacity_);
      const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (stays) continue;
      keys_[hole] = keys_[j];
      std::memcpy(static_cast<void*>(&values_[hole]), &values_[j], sizeof(V));
      hole = j;
    }
    keys_[hole] = 0;
    std::memset(static_cast<void*>(&values_[hole]), 0, sizeof(V));
    --size_;
    return true;
  }

  // fn(uint64_t key, V& value) for every entry, in slot order.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (size_t i = 0; i < capacity_; ++i) {
      if (keys_[i] != 0) fn(~keys_[i], values_[i]);
    }
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (keys_[i] != 0) fn(~keys_[i], static_cast<const V&>(values_[i]));
    }
  }

  // Slot-level access (checkpoints: entries grouped without copying them). `fn(slot, key)` for
  // each entry; KeyAt/ValueAt read an occupied slot.
  template <typename Fn>
  void ForEachSlot(Fn&& fn) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (keys_[i] != 0) fn(i, ~keys_[i]);
    }
  }
  uint64_t KeyAt(size_t slot) const { return ~keys_[slot]; }
  void PrefetchSlot(size_t slot) const {
    __builtin_prefetch(&keys_[slot]);
    __builtin_prefetch(&values_[slot]);
    __builtin_prefetch(reinterpret_cast<const char*>(&values_[slot]) + sizeof(V) - 1);
  }
  const V& ValueAt(size_t slot) const { return values_[slot]; }

  void Clear() {
    std::memset(keys_, 0, capacity_ * sizeof(uint64_t));
    std::memset(static_cast<void*>(values_), 0, capacity_ * sizeof(V));
    size_ = 0;
  }

 private:
  size_t Next(size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }

  static void Free(uint64_t* keys, V* values, size_t capacity) {
    FreeZeroed(keys, capacity * sizeof(uint64_t));
    FreeZeroed(values, capacity * sizeof(V));
  }

  void Allocate(size_t capacity) {
    keys_ = static_cast<uint64_t*>(AllocateZeroed(capacity * sizeof(uint64_t)));
    values_ = static_cast<V*>(AllocateZeroed(capacity * sizeof(V)));
    capacity_ = capacity;
    size_ = 0;
    grow_at_ = static_cast<size_t>(static_cast<double>(capacity) * kMaxLoad);
  }

  void Rehash(size_t new_capacity) {
    uint64_t* old_keys = keys_;
    V* old_values = values_;
    const size_t old_capacity = capacity_;
    Allocate(new_capacity);
    for (size_t j = 0; j < old_capacity; ++j) {
      if (old_keys[j] == 0) continue;
      size_t i = FastRange(Mix64(~old_keys[j]), capacity_);
      while (keys_[i] != 0) i = Next(i);
      keys_[i] = old_keys[j];
      std::memcpy(static_cast<void*>(&values_[i]), &old_values[j], sizeof(V));
      ++size_;
    }
    Free(old_keys, old_values, old_capacity);
  }

  uint64_t* keys_ = nullptr;
  V* values_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t grow_at_ = 0;
};

}  // namespace smetsmon
