#include "window/bucket_ring.h"

#include <algorithm>
#include <limits>

#include "smetsmon/status.h"

namespace smetsmon::window {
namespace {
constexpr int64_t kNoBucket = std::numeric_limits<int64_t>::min();
}

BucketRing::BucketRing(int64_t bucket_ms, int span_buckets, int64_t lateness_ms, size_t cells)
    : bucket_ms_(bucket_ms),
      span_buckets_(span_buckets),
      lateness_ms_(lateness_ms),
      cells_(cells),
      ring_size_(static_cast<size_t>(span_buckets) +
                 static_cast<size_t>((lateness_ms + bucket_ms - 1) / bucket_ms) + 1),
      newest_bucket_(kNoBucket),
      oldest_accepted_(kNoBucket),
      newest_start_ms_(std::numeric_limits<int64_t>::max()),
      recompute_at_ms_(std::numeric_limits<int64_t>::min()),
      stream_ms_(EventTime::Min().ms),
      tags_(new std::atomic<int64_t>[ring_size_]),
      versions_(new std::atomic<uint32_t>[ring_size_]),
      data_(new Cell[ring_size_ * cells]) {
  SMETSMON_CHECK(bucket_ms > 0 && span_buckets > 0 && lateness_ms >= 0 && cells > 0);
  for (size_t i = 0; i < ring_size_; ++i) {
    tags_[i].store(kNoBucket, std::memory_order_relaxed);
    versions_[i].store(0, std::memory_order_relaxed);
  }
  for (size_t i = 0; i < ring_size_ * cells_; ++i) data_[i].store(0, std::memory_order_relaxed);
}

void BucketRing::Recycle(size_t slot, int64_t new_tag) {
  // Seqlock write: odd version while the bucket is inconsistent. Release stores (plain moves on
  // x86) keep the odd version visible before any zeroed cell; no fences, which TSan cannot check.
  const uint32_t v = versions_[slot].load(std::memory_order_relaxed);
  versions_[slot].store(v + 1, std::memory_order_relaxed);
  Cell* cells = &data_[slot * cells_];
  for (size_t i = 0; i < cells_; ++i) cells[i].store(0, std::memory_order_release);
  tags_[slot].store(new_tag, std::memory_order_release);
  versions_[slot].store(v + 2, std::memory_order_release);
}

void BucketRing::AdvanceTo(EventTime stream_time) {
  if (stream_time.ms <= stream_ms_.load(std::memory_order_relaxed)) return;
  stream_ms_.store(stream_time.ms, std::memory_order_relaxed);
  if (stream_time.ms < recompute_at_ms_) return;  // same newest bucket, same late horizon
  const int64_t nb = BucketNumber(stream_time.ms);
  const int64_t horizon_bucket = BucketNumber(stream_time.ms - lateness_ms_);
  oldest_accepted_ = horizon_bucket - span_buckets_ + 1;
  recompute_at_ms_ =
      std::min((nb + 1) * bucket_ms_, (horizon_bucket + 1) * bucket_ms_ + lateness_ms_);
  if (nb <= newest_bucket_) return;
  const auto ring = static_cast<int64_t>(ring_size_);
  int64_t first = newest_bucket_ == kNoBucket ? nb - ring + 1 : newest_bucket_ + 1;
  if (nb - first >= ring) first = nb - ring + 1;
  for (int64_t b = first; b <= nb; ++b) Recycle(SlotOf(b), b);
  newest_bucket_ = nb;
  newest_start_ms_ = nb * bucket_ms_;
  newest_slot_ = SlotOf(nb);
}

BucketRing::Cell* BucketRing::BucketFor(EventTime t) {
  // Most events fall in the newest bucket (t is never past the stream time).
  if (t.ms >= newest_start_ms_) return &data_[newest_slot_ * cells_];
  const int64_t b = BucketNumber(t.ms);
  if (b < oldest_accepted_ || newest_bucket_ == kNoBucket) {
    late_.store(late_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return nullptr;
  }
  SMETSMON_CHECK(b <= newest_bucket_);
  const size_t slot = SlotOf(b);
  return &data_[slot * cells_];
}

void BucketRing::SumInto(EventTime now, int buckets, std::span<uint64_t> out) const {
  SMETSMON_CHECK(out.size() == cells_);
  std::vector<uint32_t> tmp(cells_);
  const int64_t nb = BucketNumber(now.ms);
  for (int64_t b = nb - buckets + 1; b <= nb; ++b) {
    const size_t slot = SlotOf(b);
    for (int attempt = 0; attempt < 8; ++attempt) {
      const uint32_t v1 = versions_[slot].load(std::memory_order_acquire);
      if (v1 & 1) continue;
      if (tags_[slot].load(std::memory_order_acquire) != b) break;
      const Cell* cells = &data_[slot * cells_];
      // Acquire loads keep the version re-check below after every cell read.
      for (size_t i = 0; i < cells_; ++i) tmp[i] = cells[i].load(std::memory_order_acquire);
      if (versions_[slot].load(std::memory_order_relaxed) != v1) continue;
      for (size_t i = 0; i < cells_; ++i) out[i] += tmp[i];
      break;
    }
  }
}

void BucketRing::SumIntoOwned(EventTime now, int buckets, std::span<uint64_t> out,
                              std::span<const std::pair<size_t, size_t>> ranges) const {
  SMETSMON_CHECK(out.size() == cells_);
  const std::pair<size_t, size_t> all[] = {{0, cells_}};
  if (ranges.empty()) ranges = all;
  const int64_t nb = BucketNumber(now.ms);
  for (int64_t b = nb - buckets + 1; b <= nb; ++b) {
    const size_t slot = SlotOf(b);
    if (tags_[slot].load(std::memory_order_relaxed) != b) continue;
    const Cell* cells = &data_[slot * cells_];
    for (const auto& [begin, end] : ranges) {
      SMETSMON_CHECK(begin <= end && end <= cells_);
      for (size_t i = begin; i < end; ++i) out[i] += cells[i].load(std::memory_order_relaxed);
    }
  }
}

BucketRing::Raw BucketRing::Export() const {
  Raw raw;
  raw.stream_ms = stream_ms_.load(std::memory_order_relaxed);
  raw.newest_bucket = newest_bucket_;
  raw.late = late();
  raw.tags.resize(ring_size_);
  raw.cells.resize(ring_size_ * cells_);
  for (size_t i = 0; i < ring_size_; ++i) raw.tags[i] = tags_[i].load(std::memory_order_relaxed);
  for (size_t i = 0; i < raw.cells.size(); ++i)
    raw.cells[i] = data_[i].load(std::memory_order_relaxed);
  return raw;
}

bool BucketRing::Import(const Raw& raw) {
  if (raw.tags.size() != ring_size_ || raw.cells.size() != ring_size_ * cells_) return false;
  stream_ms_.store(raw.stream_ms, std::memory_order_relaxed);
  newest_bucket_ = raw.newest_bucket;
  oldest_accepted_ = newest_bucket_ == kNoBucket
                         ? kNoBucket
                         : BucketNumber(raw.stream_ms - lateness_ms_) - span_buckets_ + 1;
  if (newest_bucket_ == kNoBucket) {
    newest_start_ms_ = std::numeric_limits<int64_t>::max();
    recompute_at_ms_ = std::numeric_limits<int64_t>::min();
  } else {
    newest_start_ms_ = newest_bucket_ * bucket_ms_;
    newest_slot_ = SlotOf(newest_bucket_);
    // The next AdvanceTo past the imported stream time recomputes the late horizon.
    recompute_at_ms_ = raw.stream_ms + 1;
  }
  late_.store(raw.late, std::memory_order_relaxed);
  for (size_t i = 0; i < ring_size_; ++i) tags_[i].store(raw.tags[i], std::memory_order_relaxed);
  for (size_t i = 0; i < raw.cells.size(); ++i)
    data_[i].store(raw.cells[i], std::memory_order_relaxed);
  return true;
}

bool BucketRing::MergeRaw(Raw& into, const Raw& from) {
  if (into.tags.size() != from.tags.size() || into.cells.size() != from.cells.size() ||
      into.tags.empty() || into.cells.size() % into.tags.size() != 0) {
    return false;
  }
  const size_t cells = into.cells.size() / into.tags.size();
  for (size_t slot = 0; slot < into.tags.size(); ++slot) {
    if (from.tags[slot] == kNoBucket || from.tags[slot] < into.tags[slot]) continue;
    uint32_t* dst = &into.cells[slot * cells];
    const uint32_t* src = &from.cells[slot * cells];
    if (from.tags[slot] > into.tags[slot]) {
      into.tags[slot] = from.tags[slot];
      std::copy(src, src + cells, dst);
      continue;
    }
    for (size_t c = 0; c < cells; ++c) {
      uint32_t sum;
      dst[c] = __builtin_add_overflow(dst[c], src[c], &sum) ? UINT32_MAX : sum;
    }
  }
  into.stream_ms = std::max(into.stream_ms, from.stream_ms);
  into.newest_bucket = std::max(into.newest_bucket, from.newest_bucket);
  into.late += from.late;
  return true;
}

}  // namespace smetsmon::window
