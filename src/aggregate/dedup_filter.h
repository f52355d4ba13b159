// Remembers alert-id fingerprints for a horizon of stream time so that a redelivered alert is
// counted once. Bounded memory: a set-associative cache of 4-entry, 64-byte sets; a full set
// evicts its oldest entry (counted: a non-zero eviction rate means the capacity is too small for
// the horizon at the current alert rate, and a redelivery might then count twice).
//
// Time domain: stream (event) time, passed in; "seen within the horizon" means inserted while the
// stream time was at most `horizon` earlier. Deterministic for a replay.
// Thread-safety: none; owned by one worker.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "base/flat_u64_map.h"
#include "smetsmon/types.h"

namespace smetsmon::aggregate {

class DedupFilter {
 public:
  DedupFilter(size_t capacity_entries, int64_t horizon_ms);
  DedupFilter(const DedupFilter&) = delete;
  DedupFilter& operator=(const DedupFilter&) = delete;
  ~DedupFilter();

  // True if `fingerprint` was seen within the horizon (a duplicate); otherwise remembers it.
  bool SeenBefore(uint64_t fingerprint, EventTime stream_time);
  void Prefetch(uint64_t fingerprint) const { __builtin_prefetch(&sets_[SetOf(fingerprint)]); }

  uint64_t evictions() const { return evictions_; }
  size_t capacity() const { return set_count_ * kWays; }
  int64_t horizon_ms() const { return horizon_ms_; }

  // Snapshot: the raw sets (fingerprint, expiry) as a flat vector.
  std::vector<uint64_t> Export() const;
  bool Import(const std::vector<uint64_t>& raw);

 private:
  static constexpr size_t kWays = 4;
  struct alignas(64) Set {
    uint64_t fingerprint[kWays];
    int64_t expires_s[kWays];  // stream-time second after which the entry is forgotten
  };
  static_assert(sizeof(Set) == 64);
  // Fingerprints are hashes already, but mixing again keeps structured ids (tests, other
  // producers' fingerprints) from piling into a few sets.
  size_t SetOf(uint64_t fp) const { return static_cast<size_t>(FastRange(Mix64(fp), set_count_)); }

  size_t set_count_;
  int64_t horizon_ms_;
  Set* sets_;
  uint64_t evictions_ = 0;
};

}  // namespace smetsmon::aggregate
