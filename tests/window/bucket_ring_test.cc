#include "window/bucket_ring.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace smetsmon::window {
namespace {

constexpr int64_t kMin = kMsPerMinute;

// Base times at and around bucket boundaries, and one whose bucket number is a multiple of the
// ring size minus one, so slots wrap around at different places.
class BucketRingTest : public ::testing::TestWithParam<int64_t> {
 protected:
  // 1-minute buckets, 10-minute span, 3 minutes of lateness, 4 cells: a ring of 14 buckets.
  BucketRingTest() : ring_(kMin, 10, 3 * kMin, 4) {}
  EventTime At(int64_t offset_ms) const { return {GetParam() + offset_ms}; }
  void Add(int64_t offset_ms, size_t cell, uint32_t n = 1) {
    ring_.AdvanceTo(At(offset_ms));
    auto* cells = ring_.BucketFor(At(offset_ms));
    ASSERT_NE(cells, nullptr);
    BucketRing::Bump(cells[cell], n);
  }
  uint64_t Sum(int64_t now_offset, int buckets, size_t cell) const {
    std::vector<uint64_t> out(4, 0);
    ring_.SumInto(At(now_offset), buckets, out);
    return out[cell];
  }
  BucketRing ring_;
};

TEST_P(BucketRingTest, RingHoldsSpanPlusLateness) { EXPECT_EQ(ring_.ring_size(), 14u); }

TEST_P(BucketRingTest, SumsTheLastNBuckets) {
  Add(0, 0);
  Add(kMin, 0, 2);
  Add(2 * kMin, 1, 5);
  EXPECT_EQ(Sum(2 * kMin, 1, 0), 0u);
  EXPECT_EQ(Sum(2 * kMin, 1, 1), 5u);
  EXPECT_EQ(Sum(2 * kMin, 2, 0), 2u);
  EXPECT_EQ(Sum(2 * kMin, 3, 0), 3u);
  EXPECT_EQ(Sum(2 * kMin, 10, 0), 3u);
}

TEST_P(BucketRingTest, AdvancingExpiresOldBuckets) {
  Add(0, 0, 7);
  ring_.AdvanceTo(At(9 * kMin));
  EXPECT_EQ(Sum(9 * kMin, 10, 0), 7u);  // still within the 10 buckets ending now
  ring_.AdvanceTo(At(10 * kMin));
  EXPECT_EQ(Sum(10 * kMin, 10, 0), 0u);
}

TEST_P(BucketRingTest, JumpingFurtherThanTheRingClearsEverything) {
  Add(0, 2, 3);
  Add(kMin, 2, 4);
  ring_.AdvanceTo(At(100 * kMin));
  for (int64_t back = 0; back < 20; ++back) EXPECT_EQ(Sum((100 - back) * kMin, 1, 2), 0u);
  Add(100 * kMin, 2, 1);
  EXPECT_EQ(Sum(100 * kMin, 10, 2), 1u);
}

TEST_P(BucketRingTest, SamplesWithinLatenessAreAcceptedOlderOnesAreLate) {
  ring_.AdvanceTo(At(20 * kMin));
  // Watermark = 17 min; the span ending at its bucket reaches back 10 buckets.
  const int64_t wm_bucket_start = ((GetParam() + 17 * kMin) / kMin) * kMin - GetParam();
  const int64_t oldest_ok = wm_bucket_start - 9 * kMin;
  ASSERT_NE(ring_.BucketFor(At(oldest_ok)), nullptr);
  EXPECT_EQ(ring_.BucketFor(At(oldest_ok - 1)), nullptr);
  EXPECT_EQ(ring_.late(), 1u);
  ASSERT_NE(ring_.BucketFor(At(19 * kMin)), nullptr);
  EXPECT_EQ(ring_.late(), 1u);
}

TEST_P(BucketRingTest, NeverMovesBackwards) {
  ring_.AdvanceTo(At(30 * kMin));
  ring_.AdvanceTo(At(0));
  EXPECT_EQ(ring_.stream_time(), At(30 * kMin));
  EXPECT_EQ(ring_.BucketFor(At(0)), nullptr);
}

TEST_P(BucketRingTest, BucketsNotInTheRingAddNothing) {
  Add(0, 0, 9);
  EXPECT_EQ(Sum(-50 * kMin, 10, 0), 0u);  // far before: those slots hold other buckets
  EXPECT_EQ(Sum(200 * kMin, 10, 0), 0u);  // far after: not yet written
}

TEST_P(BucketRingTest, ExportImportRoundTrip) {
  Add(0, 0, 3);
  Add(2 * kMin, 3, 4);
  ring_.AdvanceTo(At(20 * kMin));
  ASSERT_EQ(ring_.BucketFor(At(0)), nullptr);  // one late
  BucketRing copy(kMin, 10, 3 * kMin, 4);
  ASSERT_TRUE(copy.Import(ring_.Export()));
  std::vector<uint64_t> a(4, 0), b(4, 0);
  ring_.SumInto(At(20 * kMin), 14, a);
  copy.SumInto(At(20 * kMin), 14, b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(copy.late(), 1u);
  EXPECT_EQ(copy.stream_time(), ring_.stream_time());
  EXPECT_EQ(copy.BucketFor(At(0)), nullptr);
  BucketRing other_shape(kMin, 10, 3 * kMin, 5);
  EXPECT_FALSE(other_shape.Import(ring_.Export()));
}

INSTANTIATE_TEST_SUITE_P(Offsets, BucketRingTest,
                         ::testing::Values(int64_t{1687780800000},           // minute boundary
                                           int64_t{1687780800000} - 1,       // just before one
                                           int64_t{1687780800000} + 30'000,  // mid-minute
                                           int64_t{14} * kMin * 1'000'000 - kMin));  // slot wrap

// One writer advancing and bumping, one reader summing concurrently (run under TSan too): every
// reader sum is at most the total written, and after the join the sums are exact.
TEST(BucketRingConcurrencyTest, ReaderSeesConsistentSumsWhileTheWriterRuns) {
  BucketRing ring(kMin, 60, 5 * kMin, 8);
  constexpr int kEvents = 200'000;
  const int64_t base = 1687780800000;
  std::atomic<bool> done{false};
  std::atomic<bool> reader_ready{false};
  std::thread writer([&] {
    // Start once the reader is in its loop, so the two really overlap.
    while (!reader_ready.load(std::memory_order_acquire)) {
    }
    for (int i = 0; i < kEvents; ++i) {
      const EventTime t{base + i * 10};  // 2000 s of event time: 34 buckets, no expiry
      ring.AdvanceTo(t);
      BucketRing::Bump(ring.BucketFor(t)[static_cast<size_t>(i % 8)], 1);
    }
    done.store(true, std::memory_order_release);
  });
  std::vector<uint64_t> out(8);
  uint64_t previous_total = 0;
  do {
    std::fill(out.begin(), out.end(), 0);
    ring.SumInto(ring.stream_time(), 60, out);
    reader_ready.store(true, std::memory_order_release);
    uint64_t total = 0;
    for (uint64_t v : out) total += v;
    // Counts only grow (no bucket expires in this run), and never exceed what was written.
    ASSERT_LE(total, static_cast<uint64_t>(kEvents));
    ASSERT_GE(total, previous_total);
    previous_total = total;
  } while (!done.load(std::memory_order_acquire));
  writer.join();
  std::fill(out.begin(), out.end(), 0);
  ring.SumInto(ring.stream_time(), 60, out);
  for (uint64_t v : out) EXPECT_EQ(v, static_cast<uint64_t>(kEvents / 8));
}

}  // namespace
}  // namespace smetsmon::window
