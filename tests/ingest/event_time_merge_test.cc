#include "ingest/event_time_merge.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

namespace smetsmon::ingest {
namespace {

constexpr int64_t kWaitNs = 1'000'000'000;

// A message's handle encodes (partition, index) so the output says where each came from.
void* Handle(int32_t partition, int index) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(partition * 1'000'000 + index + 1));
}
std::pair<int32_t, int> Origin(void* handle) {
  const auto v = static_cast<int>(reinterpret_cast<uintptr_t>(handle)) - 1;
  return {v / 1'000'000, v % 1'000'000};
}

EventTimeMerge::Item At(int32_t partition, int index, int64_t event_ms) {
  return {Handle(partition, index), event_ms, 0, 100};
}

const EventTimeMerge::MayHaveMore kNothingMore = [](int32_t) { return false; };
const EventTimeMerge::MayHaveMore kAlwaysMore = [](int32_t) { return true; };
const EventTimeMerge::MayHaveMore kOneHasMore = [](int32_t p) { return p == 1; };

std::vector<std::pair<int32_t, int>> Origins(const std::vector<EventTimeMerge::Item>& items) {
  std::vector<std::pair<int32_t, int>> out;
  for (const auto& item : items) out.push_back(Origin(item.handle));
  return out;
}

TEST(EventTimeMergeTest, TakesTheEarliestHeadFirstAndKeepsEachPartitionsOrder) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  // Partition 0 is out of order within itself (30 before 20): that order is kept.
  merge.Add(0, At(0, 0, 10), 0);
  merge.Add(0, At(0, 1, 30), 0);
  merge.Add(0, At(0, 2, 20), 0);
  merge.Add(1, At(1, 0, 10), 0);
  merge.Add(1, At(1, 1, 25), 0);
  std::vector<EventTimeMerge::Item> out;
  EXPECT_EQ(merge.Take(100, 0, kNothingMore, &out), 5u);
  // Ties go to the lower partition; 0's 20 waits behind its 30.
  const std::vector<std::pair<int32_t, int>> want = {{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 2}};
  EXPECT_EQ(Origins(out), want);
  EXPECT_TRUE(merge.empty());
  EXPECT_EQ(merge.buffered_bytes(), 0u);
}

TEST(EventTimeMergeTest, AnEmptyPartitionWithMessagesToFetchHoldsTheOthersBack) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  merge.Add(0, At(0, 0, 100), 0);
  std::vector<EventTimeMerge::Item> out;
  // Partition 1 has delivered nothing and may have more: its first message could be earlier.
  EXPECT_EQ(merge.Take(100, 0, kOneHasMore, &out), 0u);
  EXPECT_EQ(merge.waiting_for(), 1);
  EXPECT_EQ(merge.waits(), 1u);
  merge.Add(1, At(1, 0, 50), 0);
  // Now 1's 50 goes first; then 1 is empty again and may have more: 0's 100 waits.
  EXPECT_EQ(merge.Take(100, 0, kOneHasMore, &out), 1u);
  EXPECT_EQ(Origin(out[0].handle), std::make_pair(1, 0));
  EXPECT_EQ(merge.waiting_for(), 1);
  // At its end, partition 1 holds nobody back.
  merge.AtEnd(1, 0);
  EXPECT_EQ(merge.Take(100, 0, kOneHasMore, &out), 1u);
  EXPECT_EQ(Origin(out[1].handle), std::make_pair(0, 0));
  EXPECT_EQ(merge.waiting_for(), -1);
}

TEST(EventTimeMergeTest, APartitionWithNothingLeftToFetchHoldsNobodyBack) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  merge.Add(0, At(0, 0, 100), 0);
  std::vector<EventTimeMerge::Item> out;
  // Live: partition 1 read to its high watermark (not behind) though no end event came yet.
  EXPECT_EQ(merge.Take(
                100, 0, [](int32_t p) { return p != 1; }, &out),
            1u);
}

// The property the daemon relies on: however the partitions' messages arrive (in what chunks,
// interleaved how), the merged sequence is the same.
TEST(EventTimeMergeTest, TheOutputDoesNotDependOnHowTheMessagesArrive) {
  constexpr int kPartitions = 6, kPerPartition = 300;
  std::mt19937_64 rng(7);
  std::map<int32_t, std::vector<int64_t>> times;  // per partition, roughly increasing
  for (int32_t p = 0; p < kPartitions; ++p) {
    int64_t t = 1000 + static_cast<int64_t>(rng() % 50);
    for (int i = 0; i < kPerPartition; ++i) {
      t += static_cast<int64_t>(rng() % 20);
      times[p].push_back(t - static_cast<int64_t>(rng() % 15));  // a little out of order
    }
  }
  std::vector<std::pair<int32_t, int>> reference;
  for (int trial = 0; trial < 20; ++trial) {
    EventTimeMerge merge(kWaitNs, size_t{1} << 30);
    std::map<int32_t, int> next;  // per partition: messages handed to the merge
    for (int32_t p = 0; p < kPartitions; ++p) merge.Assign(p, 0);
    const auto more = [&](int32_t p) { return next[p] < kPerPartition; };
    std::vector<EventTimeMerge::Item> out;
    while (static_cast<int>(out.size()) < kPartitions * kPerPartition) {
      // A random partition delivers a random chunk; then a random-sized take.
      const auto p = static_cast<int32_t>(rng() % kPartitions);
      const int chunk = 1 + static_cast<int>(rng() % (trial % 2 == 0 ? 5 : 200));
      for (int i = 0; i < chunk && next[p] < kPerPartition; ++i, ++next[p]) {
        merge.Add(p, At(p, next[p], times[p][static_cast<size_t>(next[p])]), 0);
      }
      if (next[p] == kPerPartition) merge.AtEnd(p, 0);
      merge.Take(1 + rng() % 64, 0, more, &out);
    }
    if (trial == 0) {
      reference = Origins(out);
    } else {
      ASSERT_EQ(Origins(out), reference) << "trial " << trial;
    }
  }
  // And it is a merge: within each partition the original order.
  std::map<int32_t, int> last;
  for (const auto& [p, index] : reference) {
    EXPECT_EQ(index, last.count(p) ? last[p] + 1 : 0);
    last[p] = index;
  }
}

TEST(EventTimeMergeTest, APartitionThatDoesNotDeliverForTheMaxWaitIsPassedOver) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  merge.Add(0, At(0, 0, 100), 0);
  std::vector<EventTimeMerge::Item> out;
  EXPECT_EQ(merge.Take(100, kWaitNs - 1, kOneHasMore, &out), 0u);
  EXPECT_EQ(merge.Take(100, kWaitNs, kOneHasMore, &out), 1u);
  EXPECT_EQ(merge.passed_over(), 1u);
  // Counted once per wait, and a delivery makes it hold again.
  merge.Add(0, At(0, 1, 200), kWaitNs);
  EXPECT_EQ(merge.Take(100, kWaitNs + 1, kAlwaysMore, &out), 1u);
  EXPECT_EQ(merge.passed_over(), 1u);
  merge.Add(1, At(1, 0, 300), kWaitNs + 2);
  merge.Add(0, At(0, 2, 400), kWaitNs + 2);
  EXPECT_EQ(merge.Take(100, kWaitNs + 3, kAlwaysMore, &out), 1u);  // 1's 300, then 1 holds
  EXPECT_EQ(merge.waiting_for(), 1);
}

// The bound is on waiting, not on age: a partition whose last delivery is old (its run took long
// to drain, or the workers stalled) still holds the others back once it runs empty.
TEST(EventTimeMergeTest, TheWaitStartsWhenAPartitionRunsEmpty) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  merge.Add(1, At(1, 0, 100), 0);
  merge.Add(0, At(0, 0, 200), 0);
  std::vector<EventTimeMerge::Item> out;
  EXPECT_EQ(merge.Take(100, 2 * kWaitNs, kOneHasMore, &out), 1u);
  EXPECT_EQ(merge.waiting_for(), 1);
  EXPECT_EQ(merge.passed_over(), 0u);
  EXPECT_EQ(merge.Take(100, 3 * kWaitNs, kOneHasMore, &out), 1u);  // now it has waited enough
  EXPECT_EQ(merge.passed_over(), 1u);
  // After a pause, every wait starts again.
  merge.Add(0, At(0, 1, 300), 3 * kWaitNs);
  merge.RestartWaits(5 * kWaitNs);
  EXPECT_EQ(merge.Take(100, 5 * kWaitNs + 1, kOneHasMore, &out), 0u);
  EXPECT_EQ(merge.waiting_for(), 1);
}

TEST(EventTimeMergeTest, PastTheByteBoundTheEarliestGoesRegardless) {
  EventTimeMerge merge(kWaitNs, /*max_buffered_bytes=*/250);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  for (int i = 0; i < 3; ++i) merge.Add(0, At(0, i, 100 + i), 0);  // 300 bytes
  std::vector<EventTimeMerge::Item> out;
  EXPECT_EQ(merge.Take(100, 0, kAlwaysMore, &out), 3u);
  EXPECT_EQ(merge.forced(), 1u);
  merge.Add(0, At(0, 3, 200), 0);  // 100 bytes: within the bound, partition 1 holds again
  EXPECT_EQ(merge.Take(100, 0, kAlwaysMore, &out), 0u);
  EXPECT_EQ(merge.forced(), 1u);
}

TEST(EventTimeMergeTest, ARevokedPartitionsMessagesAreHandedBackAndItHoldsNobody) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  merge.Add(0, At(0, 0, 100), 0);
  merge.Add(1, At(1, 0, 50), 0);
  merge.Add(1, At(1, 1, 60), 0);
  std::vector<void*> dropped;
  merge.Revoke(1, [&](void* h) { dropped.push_back(h); });
  EXPECT_EQ(dropped, (std::vector<void*>{Handle(1, 0), Handle(1, 1)}));
  EXPECT_EQ(merge.buffered(), 1u);
  EXPECT_EQ(merge.buffered_bytes(), 100u);
  std::vector<EventTimeMerge::Item> out;
  EXPECT_EQ(merge.Take(100, 0, kNothingMore, &out), 1u);
}

TEST(EventTimeMergeTest, AMessageWithoutATimeKeepsItsPlaceInItsPartition) {
  EventTimeMerge merge(kWaitNs, 1 << 20);
  merge.Assign(0, 0);
  merge.Assign(1, 0);
  merge.Add(0, At(0, 0, 100), 0);
  merge.Add(0, At(0, 1, 0), 0);  // unreadable: ordered as 100
  merge.Add(0, At(0, 2, 300), 0);
  merge.Add(1, At(1, 0, 50), 0);
  merge.Add(1, At(1, 1, 200), 0);
  std::vector<EventTimeMerge::Item> out;
  merge.Take(100, 0, kNothingMore, &out);
  const std::vector<std::pair<int32_t, int>> want = {{1, 0}, {0, 0}, {0, 1}, {1, 1}, {0, 2}};
  EXPECT_EQ(Origins(out), want);
  EXPECT_EQ(out[2].event_ms, 0);  // the item itself still says it has no time
}

}  // namespace
}  // namespace smetsmon::ingest
