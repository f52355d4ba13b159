#include "base/flat_u64_map.h"

#include <gtest/gtest.h>

#include <unordered_map>

namespace smetsmon {
namespace {

struct Value {
  uint64_t a;
  uint32_t b;
};

TEST(FlatU64MapTest, InsertFindAndInsertedFlag) {
  FlatU64Map<Value> m(16);
  bool inserted = false;
  m.FindOrInsert(7, &inserted).a = 70;
  EXPECT_TRUE(inserted);
  m.FindOrInsert(7, &inserted).b = 1;
  EXPECT_FALSE(inserted);
  ASSERT_NE(m.Find(7), nullptr);
  EXPECT_EQ(m.Find(7)->a, 70u);
  EXPECT_EQ(m.Find(7)->b, 1u);
  EXPECT_EQ(m.Find(8), nullptr);
  EXPECT_EQ(m.size(), 1u);
}

TEST(FlatU64MapTest, KeyZeroIsAnOrdinaryKey) {
  FlatU64Map<Value> m(16);
  bool inserted = false;
  m.FindOrInsert(0, &inserted).a = 5;
  EXPECT_TRUE(inserted);
  ASSERT_NE(m.Find(0), nullptr);
  EXPECT_EQ(m.Find(0)->a, 5u);
}

TEST(FlatU64MapTest, GrowsBeyondItsPresizeKeepingEveryEntry) {
  FlatU64Map<Value> m(10);
  const size_t initial = m.capacity();
  bool inserted = false;
  for (uint64_t k = 1; k <= 10000; ++k) m.FindOrInsert(k * 31, &inserted).a = k;
  EXPECT_GT(m.capacity(), initial);
  EXPECT_EQ(m.size(), 10000u);
  for (uint64_t k = 1; k <= 10000; ++k) {
    ASSERT_NE(m.Find(k * 31), nullptr) << k;
    EXPECT_EQ(m.Find(k * 31)->a, k);
  }
  EXPECT_LE(static_cast<double>(m.size()), static_cast<double>(m.capacity()) * 0.9 + 1);
  EXPECT_EQ(m.memory_bytes(), m.capacity() * (8 + sizeof(Value)));
}

TEST(FlatU64MapTest, ForEachVisitsEachEntryOnceAndClearEmpties) {
  FlatU64Map<Value> m(100);
  bool inserted = false;
  for (uint64_t k = 0; k < 50; ++k) m.FindOrInsert(k, &inserted).a = k + 1;
  uint64_t count = 0, sum = 0;
  m.ForEach([&](uint64_t key, Value& v) {
    ++count;
    sum += v.a;
    EXPECT_EQ(v.a, key + 1);
  });
  EXPECT_EQ(count, 50u);
  EXPECT_EQ(sum, 50u * 51u / 2u);
  m.Clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Find(3), nullptr);
}

TEST(FlatU64MapTest, MatchesStdUnorderedMapOnRandomOperations) {
  FlatU64Map<Value> m(64);
  std::unordered_map<uint64_t, uint64_t> ref;
  uint64_t x = 12345;
  bool inserted = false;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t key = (x >> 17) % 50000;
    if ((x >> 60) < 12) {
      Value& v = m.FindOrInsert(key, &inserted);
      EXPECT_EQ(inserted, ref.count(key) == 0);
      v.a += 1;
      ref[key] += 1;
    } else {
      const Value* v = m.Find(key);
      const auto it = ref.find(key);
      ASSERT_EQ(v != nullptr, it != ref.end());
      if (v) {
        EXPECT_EQ(v->a, it->second);
      }
    }
  }
  EXPECT_EQ(m.size(), ref.size());
}

TEST(FlatU64MapTest, EraseKeepsEveryOtherEntryReachableAndZeroesWhatItFrees) {
  // A small table kept near its maximum load, so probe runs are long and wrap around its end:
  // random inserts and erases against a reference.
  FlatU64Map<Value> m(32);
  std::unordered_map<uint64_t, uint64_t> ref;
  uint64_t x = 987654321;
  bool inserted = false;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t key = (x >> 17) % 40;
    if ((x >> 62) < 2) {
      Value& v = m.FindOrInsert(key, &inserted);
      ASSERT_EQ(inserted, ref.count(key) == 0);
      if (inserted) {
        EXPECT_EQ(v.a, 0u);  // a freed slot comes back zeroed
      }
      v.a += 1;
      ref[key] += 1;
    } else {
      EXPECT_EQ(m.Erase(key), ref.erase(key) == 1);
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  for (const auto& [key, n] : ref) {
    const Value* v = m.Find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->a, n);
  }
  size_t visited = 0;
  m.ForEach([&](uint64_t key, const Value& v) {
    ++visited;
    EXPECT_EQ(v.a, ref.at(key));
  });
  EXPECT_EQ(visited, ref.size());
}

TEST(FlatU64MapTest, LargeTablesComeFromZeroedHugePageMemory) {
  // Above the big-allocation threshold the table is mmap'd: still empty and usable.
  FlatU64Map<Value> m(1 << 20);
  EXPECT_GE(m.memory_bytes(), kBigAllocThreshold);
  EXPECT_EQ(m.Find(12345), nullptr);
  bool inserted = false;
  m.FindOrInsert(12345, &inserted).a = 9;
  EXPECT_EQ(m.Find(12345)->a, 9u);
}

}  // namespace
}  // namespace smetsmon
