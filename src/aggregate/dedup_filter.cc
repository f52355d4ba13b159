#include "aggregate/dedup_filter.h"

#include <cstring>
#include <new>

#include "base/big_alloc.h"
#include "smetsmon/status.h"

namespace smetsmon::aggregate {

DedupFilter::DedupFilter(size_t capacity_entries, int64_t horizon_ms, size_t segments)
    : segments_(segments),
      sets_per_segment_(std::max<size_t>(1, (capacity_entries + kWays - 1) / kWays)),
      set_count_(sets_per_segment_ * segments),
      horizon_ms_(horizon_ms) {
  SMETSMON_CHECK(horizon_ms >= 0);
  SMETSMON_CHECK(segments >= 1);
  // Zeroed memory is an empty filter; AllocateZeroed's blocks are 64-byte aligned.
  sets_ = static_cast<Set*>(AllocateZeroed(set_count_ * sizeof(Set)));
  SMETSMON_CHECK(reinterpret_cast<uintptr_t>(sets_) % alignof(Set) == 0);
}

DedupFilter::~DedupFilter() { FreeZeroed(sets_, set_count_ * sizeof(Set)); }

bool DedupFilter::SeenBefore(uint64_t fp, EventTime stream_time, size_t segment) {
  // Fingerprint 0 marks an empty way; remap the (1 in 2^64) real zero.
  if (fp == 0) fp = 1;
  const int64_t now_s = stream_time.ms / 1000;
  Set* candidates[2] = {&sets_[SetOf(fp, segment)], &sets_[OtherSetOf(fp, segment)]};
  size_t live[2] = {0, 0};
  size_t victim[2] = {0, 0};
  for (size_t c = 0; c < 2; ++c) {
    const Set& set = *candidates[c];
    for (size_t w = 0; w < kWays; ++w) {
      const bool is_live = set.fingerprint[w] != 0 && set.expires_s[w] >= now_s;
      if (is_live && set.fingerprint[w] == fp) return true;
      live[c] += is_live;
      if (set.expires_s[w] < set.expires_s[victim[c]]) victim[c] = w;
    }
  }
  // The less loaded candidate (the first on a tie); in it the way that is empty, expired or
  // else the oldest live entry, which is then evicted.
  const size_t c = live[1] < live[0] ? 1 : 0;
  Set& set = *candidates[c];
  if (live[c] == kWays) ++evictions_;
  set.fingerprint[victim[c]] = fp;
  set.expires_s[victim[c]] = now_s + horizon_ms_ / 1000;
  return false;
}

std::vector<uint64_t> DedupFilter::Export() const {
  std::vector<uint64_t> raw;
  raw.reserve(set_count_ * kWays * 2);
  for (size_t s = 0; s < set_count_; ++s) {
    for (size_t w = 0; w < kWays; ++w) {
      raw.push_back(sets_[s].fingerprint[w]);
      raw.push_back(static_cast<uint64_t>(sets_[s].expires_s[w]));
    }
  }
  return raw;
}

bool DedupFilter::Import(const std::vector<uint64_t>& raw) {
  if (raw.size() != set_count_ * kWays * 2) return false;
  size_t i = 0;
  for (size_t s = 0; s < set_count_; ++s) {
    for (size_t w = 0; w < kWays; ++w) {
      sets_[s].fingerprint[w] = raw[i++];
      sets_[s].expires_s[w] = static_cast<int64_t>(raw[i++]);
    }
  }
  return true;
}

std::vector<uint64_t> DedupFilter::ExportSegmentUsed(size_t segment) const {
  std::vector<uint64_t> raw;
  const size_t first = segment * sets_per_segment_;
  for (size_t s = 0; s < sets_per_segment_; ++s) {
    for (size_t w = 0; w < kWays; ++w) {
      const Set& set = sets_[first + s];
      if (set.fingerprint[w] == 0) continue;
      raw.push_back(s * kWays + w);
      raw.push_back(set.fingerprint[w]);
      raw.push_back(static_cast<uint64_t>(set.expires_s[w]));
    }
  }
  return raw;
}

bool DedupFilter::ImportSegmentUsed(size_t segment, const std::vector<uint64_t>& triples) {
  if (segment >= segments_ || triples.size() % 3 != 0) return false;
  for (size_t i = 0; i < triples.size(); i += 3) {
    if (triples[i] >= segment_ways()) return false;
  }
  Set* first = sets_ + segment * sets_per_segment_;
  std::memset(static_cast<void*>(first), 0, sets_per_segment_ * sizeof(Set));
  for (size_t i = 0; i < triples.size(); i += 3) {
    Set& set = first[triples[i] / kWays];
    set.fingerprint[triples[i] % kWays] = triples[i + 1];
    set.expires_s[triples[i] % kWays] = static_cast<int64_t>(triples[i + 2]);
  }
  return true;
}

}  // namespace smetsmon::aggregate
