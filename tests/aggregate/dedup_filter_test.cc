#include "aggregate/dedup_filter.h"

#include <gtest/gtest.h>

namespace smetsmon::aggregate {
namespace {

constexpr EventTime kT0{1687780800000};
EventTime Plus(int64_t ms) { return {kT0.ms + ms}; }

TEST(DedupFilterTest, SeenWithinTheHorizonIsADuplicate) {
  DedupFilter f(1024, kMsPerHour);
  EXPECT_FALSE(f.SeenBefore(42, kT0));
  EXPECT_TRUE(f.SeenBefore(42, kT0));
  EXPECT_TRUE(f.SeenBefore(42, Plus(kMsPerHour)));  // the horizon is inclusive
}

TEST(DedupFilterTest, ForgottenAfterTheHorizon) {
  DedupFilter f(1024, kMsPerHour);
  EXPECT_FALSE(f.SeenBefore(42, kT0));
  EXPECT_FALSE(f.SeenBefore(42, Plus(kMsPerHour + kMsPerSecond)));
  EXPECT_TRUE(f.SeenBefore(42, Plus(kMsPerHour + 2 * kMsPerSecond)));  // re-remembered
}

TEST(DedupFilterTest, DistinctFingerprintsAreIndependent) {
  DedupFilter f(1024, kMsPerHour);
  for (uint64_t fp = 1; fp <= 100; ++fp)
    EXPECT_FALSE(f.SeenBefore(fp * 0x9E3779B97F4A7C15ULL, kT0));
  for (uint64_t fp = 1; fp <= 100; ++fp) EXPECT_TRUE(f.SeenBefore(fp * 0x9E3779B97F4A7C15ULL, kT0));
  EXPECT_EQ(f.evictions(), 0u);
}

TEST(DedupFilterTest, AFullSetEvictsItsOldestEntryAndCountsIt) {
  DedupFilter f(4, kMsPerHour);  // one set of four ways
  ASSERT_EQ(f.capacity(), 4u);
  for (uint64_t fp = 1; fp <= 4; ++fp)
    EXPECT_FALSE(f.SeenBefore(fp, Plus(static_cast<int64_t>(fp) * 1000)));
  EXPECT_FALSE(f.SeenBefore(5, Plus(5000)));
  EXPECT_EQ(f.evictions(), 1u);
  EXPECT_FALSE(f.SeenBefore(1, Plus(5000)));  // the oldest was evicted (and now re-inserted)
  EXPECT_EQ(f.evictions(), 2u);
  EXPECT_TRUE(f.SeenBefore(3, Plus(5000)));
  EXPECT_TRUE(f.SeenBefore(4, Plus(5000)));
  EXPECT_TRUE(f.SeenBefore(5, Plus(5000)));
}

TEST(DedupFilterTest, ExpiredWaysAreReusedWithoutEviction) {
  DedupFilter f(4, kMsPerMinute);
  for (uint64_t fp = 1; fp <= 4; ++fp) f.SeenBefore(fp, kT0);
  for (uint64_t fp = 5; fp <= 8; ++fp) EXPECT_FALSE(f.SeenBefore(fp, Plus(2 * kMsPerMinute)));
  EXPECT_EQ(f.evictions(), 0u);
}

TEST(DedupFilterTest, FingerprintZeroWorks) {
  DedupFilter f(1024, kMsPerHour);
  EXPECT_FALSE(f.SeenBefore(0, kT0));
  EXPECT_TRUE(f.SeenBefore(0, kT0));
}

TEST(DedupFilterTest, ExportImportRoundTrip) {
  DedupFilter a(64, kMsPerHour);
  for (uint64_t fp = 1; fp <= 20; ++fp) a.SeenBefore(fp * 7919, kT0);
  DedupFilter b(64, kMsPerHour);
  ASSERT_TRUE(b.Import(a.Export()));
  for (uint64_t fp = 1; fp <= 20; ++fp) EXPECT_TRUE(b.SeenBefore(fp * 7919, kT0));
  EXPECT_FALSE(b.SeenBefore(21 * 7919, kT0));
  DedupFilter c(128, kMsPerHour);
  EXPECT_FALSE(c.Import(a.Export()));
}

}  // namespace
}  // namespace smetsmon::aggregate
