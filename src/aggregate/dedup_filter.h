// Remembers alert-id fingerprints for a horizon of stream time so that a redelivered alert is
// counted once. Bounded memory: a set-associative cache of 4-entry, 64-byte sets. Each fingerprint
// has two candidate sets (two hashes) and goes into the one with fewer live entries; only when
// both are full is the oldest live entry of the chosen set evicted (counted: a non-zero eviction
// rate means the capacity is too small for the horizon at the current alert rate, and a
// redelivery might then count twice). Two choices matter: with one set per fingerprint, 6 M live
// ids at a 25 % load factor overflow about 26,000 sets (a Poisson tail); with two, none
// (docs/performance.md). A lookup reads both sets (two cache lines, both prefetched).
//
// The sets are split into `segments` of equal size: a fingerprint lives in the segment its caller
// names (the engine passes the device's virtual shard) and in a set chosen by its hash within it.
// A worker holds the segments of the virtual shards it owns, so which ids evict which does not
// depend on how many workers share the shards.
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
  // `capacity_entries` per segment.
  DedupFilter(size_t capacity_entries, int64_t horizon_ms, size_t segments = 1);
  DedupFilter(const DedupFilter&) = delete;
  DedupFilter& operator=(const DedupFilter&) = delete;
  ~DedupFilter();

  // True if `fingerprint` was seen within the horizon (a duplicate); otherwise remembers it.
  bool SeenBefore(uint64_t fingerprint, EventTime stream_time, size_t segment = 0);
  void Prefetch(uint64_t fingerprint, size_t segment = 0) const {
    __builtin_prefetch(&sets_[SetOf(fingerprint, segment)]);
    __builtin_prefetch(&sets_[OtherSetOf(fingerprint, segment)]);
  }

  uint64_t evictions() const { return evictions_; }
  size_t capacity() const { return set_count_ * kWays; }
  size_t segments() const { return segments_; }
  int64_t horizon_ms() const { return horizon_ms_; }

  // Checkpoint, version 4: the raw sets (fingerprint, expiry) as a flat vector (Import is false
  // when it does not fit this filter's shape).
  std::vector<uint64_t> Export() const;
  bool Import(const std::vector<uint64_t>& raw);
  // One segment's ways in use as (way index within the segment, fingerprint, expiry) triples:
  // a virtual shard's entries, movable to a filter of another shape with the same segment size.
  std::vector<uint64_t> ExportSegmentUsed(size_t segment) const;
  bool ImportSegmentUsed(size_t segment, const std::vector<uint64_t>& triples);
  size_t segment_ways() const { return sets_per_segment_ * kWays; }

 private:
  static constexpr size_t kWays = 4;
  struct alignas(64) Set {
    uint64_t fingerprint[kWays];
    int64_t expires_s[kWays];  // stream-time second after which the entry is forgotten
  };
  static_assert(sizeof(Set) == 64);
  // Fingerprints are hashes already, but mixing again keeps structured ids (tests, other
  // producers' fingerprints) from piling into a few sets.
  size_t SetOf(uint64_t fp, size_t segment) const {
    return segment * sets_per_segment_ +
           static_cast<size_t>(FastRange(Mix64(fp), sets_per_segment_));
  }
  // The second candidate (may equal the first in a tiny filter: then there is one choice).
  // Checkpoints before two choices placed every entry in SetOf's set, where it is still found.
  size_t OtherSetOf(uint64_t fp, size_t segment) const {
    return segment * sets_per_segment_ +
           static_cast<size_t>(FastRange(Mix64(fp ^ 0x9e3779b97f4a7c15ULL), sets_per_segment_));
  }

  size_t segments_;
  size_t sets_per_segment_;
  size_t set_count_;
  int64_t horizon_ms_;
  Set* sets_;
  uint64_t evictions_ = 0;
};

}  // namespace smetsmon::aggregate
