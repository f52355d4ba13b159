// One level of an event-time sliding window: a ring of fixed-width buckets, each an array of
// counters ("cells"), in the style of folly's BucketedTimeSeries with time always an argument.
//
// Time domain: event time. The writer moves the level forward with AdvanceTo(stream_time), where
// stream time is the largest event time seen (or an idle stream's processing time minus the idle
// lag, see aggregate/worker.h). The watermark is stream_time - lateness. A sample whose bucket lies
// before the `span_buckets` buckets ending at the watermark's bucket is late: refused and counted.
// The ring keeps span + lateness buckets so everything up to the stream time is held.
//
// Thread-safety: one writer thread (AdvanceTo, BucketFor, Bump); any number of reader threads
// (SumInto, late()) concurrently. Cells are relaxed atomics written by the single writer (plain
// loads and stores, no read-modify-write); a per-bucket sequence number lets readers skip a bucket
// that is being recycled under them. No locks, no allocation after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "smetsmon/types.h"

namespace smetsmon::window {

class BucketRing {
 public:
  using Cell = std::atomic<uint32_t>;

  BucketRing(int64_t bucket_ms, int span_buckets, int64_t lateness_ms, size_t cells);

  int64_t bucket_ms() const { return bucket_ms_; }
  int span_buckets() const { return span_buckets_; }
  size_t cells() const { return cells_; }
  size_t ring_size() const { return ring_size_; }

  // Writer: moves the stream time forward (never back), recycling buckets that fell out.
  void AdvanceTo(EventTime stream_time);

  // Writer: the cell array of the bucket holding `t`, or nullptr if `t` is late for this level
  // (the late counter is incremented). `t` must not be past the stream time.
  Cell* BucketFor(EventTime t);

  // Writer: adds n to a cell without a read-modify-write instruction (single writer). A cell
  // saturates at 2^32 - 1 instead of wrapping, and each add that hit the ceiling is counted
  // (saturations()). Cells stay 32-bit: with throttled_count bounded by the decoder (default
  // 1,000,000) it takes 4295 hostile messages in one bucket to reach the ceiling, a count far
  // beyond any real one, whereas 64-bit cells would double every window's memory and the
  // checkpoint (docs/performance.md). Sums over buckets and workers are 64-bit.
  static void Bump(Cell& c, uint32_t n) {
    uint32_t sum;
    if (__builtin_add_overflow(c.load(std::memory_order_relaxed), n, &sum)) [[unlikely]] {
      sum = UINT32_MAX;
      saturations_.fetch_add(1, std::memory_order_relaxed);  // rare: never on a normal path
    }
    c.store(sum, std::memory_order_relaxed);
  }
  // Saturated adds, all rings of the process (smetsmon_window_cell_saturations_total).
  static uint64_t saturations() { return saturations_.load(std::memory_order_relaxed); }

  // Reader: adds to `out` (size cells()) the sum of the last `buckets` buckets ending with the
  // bucket that holds `now`. Buckets not (or no longer) in the ring contribute nothing.
  void SumInto(EventTime now, int buckets, std::span<uint64_t> out) const;
  // The same from the writer's own thread (nothing can change under it): plain loads, no copy.
  // With `ranges` ([begin, end) cell ranges), only those cells are summed (the others are known
  // to be zero: label ids not in use yet).
  void SumIntoOwned(EventTime now, int buckets, std::span<uint64_t> out,
                    std::span<const std::pair<size_t, size_t>> ranges = {}) const;

  uint64_t late() const { return late_.load(std::memory_order_relaxed); }
  EventTime stream_time() const { return {stream_ms_.load(std::memory_order_relaxed)}; }

  // Snapshot support (writer thread, or while the writer is stopped).
  struct Raw {
    int64_t stream_ms;
    int64_t newest_bucket;
    uint64_t late;
    std::vector<int64_t> tags;
    std::vector<uint32_t> cells;
  };
  Raw Export() const;
  // False if the shape (ring size, cells) differs.
  bool Import(const Raw& raw);
  // Adds the ring `from` to `into`, both of one shape (false, `into` unchanged, otherwise): the
  // partials of several writers over the same time become one (a checkpoint taken with more
  // workers than restore it). A bucket both hold is summed cell by cell (saturating); one only
  // `from` holds, or holds newer, is taken; the stream time is the later, late counts add up.
  static bool MergeRaw(Raw& into, const Raw& from);

 private:
  int64_t BucketNumber(int64_t ms) const {
    return ms >= 0 ? ms / bucket_ms_ : (ms - bucket_ms_ + 1) / bucket_ms_;
  }
  size_t SlotOf(int64_t bucket) const {
    const int64_t r = bucket % static_cast<int64_t>(ring_size_);
    return static_cast<size_t>(r < 0 ? r + static_cast<int64_t>(ring_size_) : r);
  }
  void Recycle(size_t slot, int64_t new_tag);

  const int64_t bucket_ms_;
  const int span_buckets_;
  const int64_t lateness_ms_;
  const size_t cells_;
  const size_t ring_size_;
  int64_t newest_bucket_;    // writer-only
  int64_t oldest_accepted_;  // writer-only cache of the first bucket not late
  // Writer-only caches so the per-event path needs no division: the newest bucket's first
  // millisecond and slot, and the stream time from which AdvanceTo has work beyond storing it
  // (the next bucket starts, or the lateness horizon moves into the next bucket).
  int64_t newest_start_ms_;
  size_t newest_slot_ = 0;
  int64_t recompute_at_ms_;
  std::atomic<int64_t> stream_ms_;
  std::atomic<uint64_t> late_{0};
  std::unique_ptr<std::atomic<int64_t>[]> tags_;
  std::unique_ptr<std::atomic<uint32_t>[]> versions_;
  std::unique_ptr<Cell[]> data_;
  static inline std::atomic<uint64_t> saturations_{0};
};

}  // namespace smetsmon::window
