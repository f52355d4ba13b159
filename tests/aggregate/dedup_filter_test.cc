#include "aggregate/dedup_filter.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "aggregate/worker.h"

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

// A peak hour (three times the national average): 6 M distinct alert ids over one hour of stream
// time, spread over the virtual shards by device as the engine does, at the default capacity
// and horizon. None may be evicted, and every one is still remembered at the end of the hour.
TEST(DedupFilterTest, DefaultCapacityHoldsAPeakHourWithoutEvictions) {
  const EngineConfig defaults;
  DedupFilter f(defaults.dedup_capacity / kVirtualShards, defaults.dedup_horizon_ms,
                kVirtualShards);
  constexpr uint64_t kIds = 6'000'000;
  constexpr uint64_t kDevices = 2'000'000;
  const auto fingerprint = [](uint64_t i) { return Mix64(i + 1); };  // Mix64 is a bijection
  const auto segment = [](uint64_t i) { return VirtualShardOf(DeviceId{i % kDevices + 1}); };
  const auto at = [](uint64_t i) { return Plus(static_cast<int64_t>(i * kMsPerHour / kIds)); };
  for (uint64_t i = 0; i < kIds; ++i) {
    ASSERT_FALSE(f.SeenBefore(fingerprint(i), at(i), segment(i))) << i;
  }
  EXPECT_EQ(f.evictions(), 0u);
  // Most lookups read one set: the other only when the primary spilled or is about to.
  const uint64_t inserts_reading_two = f.other_set_reads();
  EXPECT_LT(inserts_reading_two, kIds / 20) << inserts_reading_two;
  const EventTime end = at(kIds - 1);
  uint64_t lookups = 0;
  for (uint64_t i = 0; i < kIds; i += 997, ++lookups) {
    ASSERT_TRUE(f.SeenBefore(fingerprint(i), end, segment(i))) << i;
  }
  EXPECT_LT(f.other_set_reads() - inserts_reading_two, lookups / 20);
  std::printf("peak hour: %.1f %% of inserts and %.1f %% of repeat lookups read a second set\n",
              100.0 * static_cast<double>(inserts_reading_two) / kIds,
              100.0 * static_cast<double>(f.other_set_reads() - inserts_reading_two) /
                  static_cast<double>(lookups));
}

// Fingerprints whose primary set is `primary` and whose spill set is `spill` (in a filter of two
// sets, found by trying).
std::vector<uint64_t> FingerprintsBetween(const DedupFilter& f, size_t primary, size_t spill,
                                          size_t count, size_t segment = 0) {
  std::vector<uint64_t> out;
  for (uint64_t fp = 1; out.size() < count; ++fp) {
    if (f.PrimarySet(fp, segment) == primary && f.SpillSet(fp, segment) == spill) {
      out.push_back(fp);
    }
  }
  return out;
}

// A primary with three live entries spills the fourth to its other set, where it is found; once
// every spilled entry has expired, lookups read the primary alone again.
TEST(DedupFilterTest, ASpilledEntryIsFoundUntilItExpires) {
  DedupFilter f(8, kMsPerHour);  // two sets
  const std::vector<uint64_t> fps = FingerprintsBetween(f, 0, 1, 5);
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(f.SeenBefore(fps[i], kT0));
  EXPECT_EQ(f.other_set_reads(), 0u);  // below the spill mark: one set read
  EXPECT_FALSE(f.SeenBefore(fps[3], Plus(10 * kMsPerMinute)));  // spills to set 1
  EXPECT_EQ(f.other_set_reads(), 1u);
  // The first three have expired, the spilled one has not: it is still found.
  const EventTime later = Plus(kMsPerHour + 2 * kMsPerSecond);
  EXPECT_TRUE(f.SeenBefore(fps[3], later));
  EXPECT_EQ(f.other_set_reads(), 2u);
  EXPECT_EQ(f.evictions(), 0u);
  // After the spilled entry's expiry, a new fingerprint reads the primary alone.
  EXPECT_FALSE(f.SeenBefore(fps[4], Plus(2 * kMsPerHour)));
  EXPECT_EQ(f.other_set_reads(), 2u);
}

// The spill marks are not part of the export: an import derives them from where the entries lie.
TEST(DedupFilterTest, AnImportFindsTheEntriesThatSpilled) {
  DedupFilter a(8, kMsPerHour);
  const std::vector<uint64_t> fps = FingerprintsBetween(a, 0, 1, 4);
  for (size_t i = 0; i < 3; ++i) a.SeenBefore(fps[i], kT0);
  a.SeenBefore(fps[3], Plus(10 * kMsPerMinute));
  ASSERT_EQ(a.other_set_reads(), 1u);
  const EventTime later = Plus(kMsPerHour + 2 * kMsPerSecond);  // the primary's own expired
  DedupFilter whole(8, kMsPerHour);
  ASSERT_TRUE(whole.Import(a.Export()));
  EXPECT_TRUE(whole.SeenBefore(fps[3], later));
  DedupFilter by_segment(8, kMsPerHour);
  ASSERT_TRUE(by_segment.ImportSegmentUsed(0, a.ExportSegmentUsed(0)));
  EXPECT_TRUE(by_segment.SeenBefore(fps[3], later));
}

// The same in the second of two segments (sets 2 and 3): the marks are derived within the
// segment an entry lies in.
TEST(DedupFilterTest, AnImportFindsTheEntriesThatSpilledInAnySegment) {
  DedupFilter a(8, kMsPerHour, /*segments=*/2);
  const std::vector<uint64_t> fps = FingerprintsBetween(a, 2, 3, 4, /*segment=*/1);
  for (size_t i = 0; i < 3; ++i) a.SeenBefore(fps[i], kT0, 1);
  a.SeenBefore(fps[3], Plus(10 * kMsPerMinute), 1);
  ASSERT_EQ(a.other_set_reads(), 1u);
  const EventTime later = Plus(kMsPerHour + 2 * kMsPerSecond);
  DedupFilter whole(8, kMsPerHour, 2);
  ASSERT_TRUE(whole.Import(a.Export()));
  EXPECT_TRUE(whole.SeenBefore(fps[3], later, 1));
  DedupFilter by_segment(8, kMsPerHour, 2);
  ASSERT_TRUE(by_segment.ImportSegmentUsed(1, a.ExportSegmentUsed(1)));
  EXPECT_TRUE(by_segment.SeenBefore(fps[3], later, 1));
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
