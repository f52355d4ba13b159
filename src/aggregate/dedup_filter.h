// Remembers alert-id fingerprints for a horizon of stream time so that a redelivered alert is
// counted once. Bounded memory: a set-associative cache of 4-entry, 64-byte sets. Each fingerprint
// has two candidate sets (two hashes): its primary set, and another it spills to once the primary
// holds three live entries, taking then the less loaded of the two. Only when both are full is the
// oldest live entry of the primary evicted (counted: a non-zero eviction rate means the capacity is
// too small for the horizon at the current alert rate, and a redelivery might then count twice).
// Two choices matter: with one set per fingerprint, 6 M live ids at a 25 % load factor overflow
// about 26,000 sets (a Poisson tail); with two, none (docs/performance.md).
//
// A lookup reads one cache line, not two: each set records until when an entry that spilled from
// it can still be live (`spilled_until_s`), and the other set is read only while that is so, or
// when the primary is full enough to spill. The table is far larger than the caches (384 MiB by
// default), so every set read is a memory access: the filter was the largest single cost of the
// per-event path when it read both sets (docs/performance.md).
//
// The sets are split into `segments` of equal size: a fingerprint lives in the segment its caller
// names (the engine passes the device's virtual shard) and in a set chosen by its hash within it.
// A worker holds the segments of the virtual shards it owns, so which ids evict which does not
// depend on how many workers share the shards.
//
// Time domain: stream (event) time, passed in; "seen within the horizon" means inserted while the
// stream time was at most `horizon` earlier. Expiry times are whole seconds since the epoch, kept
// in 32 bits (until 2106; earlier times clamp to 0). Deterministic for a replay.
// Thread-safety: none; owned by one worker.
#pragma once

#include <algorithm>
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
  // A prefetch pipeline in two stages, some events apart: the primary set first; then, once it
  // is likely cached, the other set if the lookup will read it.
  void Prefetch(uint64_t fingerprint, size_t segment = 0) const {
    __builtin_prefetch(&sets_[SetOf(Remap(fingerprint), segment)]);
  }
  void PrefetchOther(uint64_t fingerprint, size_t segment = 0) const;

  // The two sets a fingerprint may occupy (the primary, then the one it spills to), as indices
  // into the whole filter: for tests and diagnostics.
  size_t PrimarySet(uint64_t fingerprint, size_t segment = 0) const {
    return SetOf(Remap(fingerprint), segment);
  }
  size_t SpillSet(uint64_t fingerprint, size_t segment = 0) const {
    return OtherSetOf(Remap(fingerprint), segment);
  }

  uint64_t evictions() const { return evictions_; }
  // Lookups that read the other set as well as the primary (a second cache line).
  uint64_t other_set_reads() const { return other_set_reads_; }
  size_t capacity() const { return set_count_ * kWays; }
  size_t segments() const { return segments_; }
  int64_t horizon_ms() const { return horizon_ms_; }

  // Checkpoint, version 4: the raw sets (fingerprint, expiry) as a flat vector (Import is false
  // when it does not fit this filter's shape). The spill marks are not saved: Import derives them
  // from where each entry lies (an entry outside its primary set spilled from it), so a filter
  // saved by the version that always read both sets restores exactly.
  std::vector<uint64_t> Export() const;
  bool Import(const std::vector<uint64_t>& raw);
  // One segment's ways in use as (way index within the segment, fingerprint, expiry) triples:
  // a virtual shard's entries, movable to a filter of another shape with the same segment size.
  std::vector<uint64_t> ExportSegmentUsed(size_t segment) const;
  bool ImportSegmentUsed(size_t segment, const std::vector<uint64_t>& triples);
  size_t segment_ways() const { return sets_per_segment_ * kWays; }

 private:
  static constexpr size_t kWays = 4;
  // A primary set with this many live entries spills: a new entry goes to the less loaded of it
  // and the other set. Lower spills more often (more lookups read two lines); kWays would spill
  // only a full set, whose other set may be full too (an eviction), as with one choice.
  static constexpr size_t kSpillAt = kWays - 1;
  struct alignas(64) Set {
    uint64_t fingerprint[kWays];
    uint32_t expires_s[kWays];  // stream-time second after which the entry is forgotten
    // The latest expiry of the entries that spilled from this set to their other set: while it
    // has not passed, a lookup must read the other set too.
    uint32_t spilled_until_s;
    uint32_t unused[3];
  };
  static_assert(sizeof(Set) == 64);
  // Fingerprint 0 marks an empty way; the (1 in 2^64) real zero is remapped.
  static uint64_t Remap(uint64_t fp) { return fp == 0 ? 1 : fp; }
  static uint32_t Seconds32(int64_t s) {
    return static_cast<uint32_t>(std::clamp<int64_t>(s, 0, UINT32_MAX));
  }
  // The live entries of a set, and the way a new entry would take: one that is empty or expired,
  // else the oldest live one.
  struct Scan {
    bool found = false;
    size_t live = 0;
    size_t victim = 0;
  };
  static Scan ScanSet(const Set& set, uint64_t fp, uint32_t now_s);
  // Marks each entry that lies outside its primary set on that primary (after an import).
  void MarkSpills(size_t first_set, size_t sets);
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
  uint64_t other_set_reads_ = 0;
};

}  // namespace smetsmon::aggregate
