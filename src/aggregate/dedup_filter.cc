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

DedupFilter::Scan DedupFilter::ScanSet(const Set& set, uint64_t fp, uint32_t now_s) {
  Scan scan;
  for (size_t w = 0; w < kWays; ++w) {
    const bool is_live = set.fingerprint[w] != 0 && set.expires_s[w] >= now_s;
    if (is_live && set.fingerprint[w] == fp) {
      scan.found = true;
      return scan;
    }
    scan.live += is_live;
    if (set.expires_s[w] < set.expires_s[scan.victim]) scan.victim = w;
  }
  return scan;
}

void DedupFilter::PrefetchOther(uint64_t fp, size_t segment) const {
  fp = Remap(fp);
  const Set& primary = sets_[SetOf(fp, segment)];
  // Reads the primary (cached by the first stage); the stream time is not at hand, so a mark that
  // has passed still prefetches: a wasted fetch, not a wrong answer.
  if (primary.spilled_until_s != 0) {
    __builtin_prefetch(&sets_[OtherSetOf(fp, segment)]);
    return;
  }
  size_t used = 0;
  for (size_t w = 0; w < kWays; ++w) used += primary.fingerprint[w] != 0;
  if (used >= kSpillAt) __builtin_prefetch(&sets_[OtherSetOf(fp, segment)]);
}

bool DedupFilter::SeenBefore(uint64_t fp, EventTime stream_time, size_t segment) {
  fp = Remap(fp);
  const int64_t now_s = stream_time.ms / 1000;
  const uint32_t now32 = Seconds32(now_s);
  Set& primary = sets_[SetOf(fp, segment)];
  const Scan p = ScanSet(primary, fp, now32);
  if (p.found) return true;
  // The other set can hold the fingerprint only if it spilled there, and it is read to place a
  // new entry only when the primary is full enough to spill.
  Set& other = sets_[OtherSetOf(fp, segment)];
  const bool read_other =
      &other != &primary && (primary.spilled_until_s >= now32 || p.live >= kSpillAt);
  Scan q;
  if (read_other) {
    ++other_set_reads_;
    q = ScanSet(other, fp, now32);
    if (q.found) return true;
  }
  const uint32_t expires = Seconds32(now_s + horizon_ms_ / 1000);
  // The primary while it has room below the spill mark; then the less loaded of the two (the
  // primary on a tie); when both are full, the primary's oldest live entry is evicted.
  if (read_other && p.live >= kSpillAt && q.live < p.live) {
    other.fingerprint[q.victim] = fp;
    other.expires_s[q.victim] = expires;
    primary.spilled_until_s = std::max(primary.spilled_until_s, expires);
    return false;
  }
  if (p.live == kWays) ++evictions_;
  primary.fingerprint[p.victim] = fp;
  primary.expires_s[p.victim] = expires;
  return false;
}

void DedupFilter::MarkSpills(size_t first_set, size_t sets) {
  for (size_t s = first_set; s < first_set + sets; ++s) sets_[s].spilled_until_s = 0;
  for (size_t s = first_set; s < first_set + sets; ++s) {
    const size_t segment = s / sets_per_segment_;
    for (size_t w = 0; w < kWays; ++w) {
      const uint64_t fp = sets_[s].fingerprint[w];
      if (fp == 0) continue;
      const size_t home = SetOf(fp, segment);
      if (home == s) continue;
      sets_[home].spilled_until_s = std::max(sets_[home].spilled_until_s, sets_[s].expires_s[w]);
    }
  }
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
      sets_[s].expires_s[w] = Seconds32(static_cast<int64_t>(raw[i++]));
    }
  }
  MarkSpills(0, set_count_);
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
    set.expires_s[triples[i] % kWays] = Seconds32(static_cast<int64_t>(triples[i + 2]));
  }
  MarkSpills(segment * sets_per_segment_, sets_per_segment_);
  return true;
}

}  // namespace smetsmon::aggregate
