#include "webhook/backoff.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace smetsmon::webhook {
namespace {

TEST(BackoffTest, DoublesFromInitialAndCapsAtMax) {
  BackoffConfig c;
  c.jitter = 0;
  EXPECT_EQ(BackoffDelayMs(c, 1, "k"), 1'000);
  EXPECT_EQ(BackoffDelayMs(c, 2, "k"), 2'000);
  EXPECT_EQ(BackoffDelayMs(c, 3, "k"), 4'000);
  EXPECT_EQ(BackoffDelayMs(c, 9, "k"), 256'000);
  EXPECT_EQ(BackoffDelayMs(c, 10, "k"), 300'000);
  EXPECT_EQ(BackoffDelayMs(c, 1'000'000, "k"), 300'000);  // no overflow
}

TEST(BackoffTest, JitterStaysWithinItsFractionAndIsReproducible) {
  BackoffConfig c;  // jitter 0.2
  std::set<int64_t> distinct;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key" + std::to_string(i);
    const int64_t d = BackoffDelayMs(c, 3, key);
    EXPECT_GE(d, 3'200);
    EXPECT_LE(d, 4'800);
    EXPECT_EQ(d, BackoffDelayMs(c, 3, key));
    distinct.insert(d);
  }
  EXPECT_GT(distinct.size(), 100u);  // notifications that failed together spread out
  for (int n = 1; n < 30; ++n) EXPECT_LE(BackoffDelayMs(c, static_cast<uint32_t>(n), "x"), 300'000);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailures) {
  CircuitBreaker b({/*failures_to_open=*/3, /*open_for_ms=*/60'000});
  EXPECT_TRUE(b.Allow(0));
  EXPECT_FALSE(b.OnFailure(0));
  b.OnSuccess();  // a success resets the count
  EXPECT_FALSE(b.OnFailure(1));
  EXPECT_FALSE(b.OnFailure(2));
  EXPECT_TRUE(b.OnFailure(3));
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  EXPECT_EQ(b.open_until_ms(), 60'003);
  EXPECT_FALSE(b.Allow(60'002));
  EXPECT_EQ(b.times_opened(), 1u);
}

TEST(CircuitBreakerTest, HalfOpenAllowsOneTrialThenClosesOrReopens) {
  CircuitBreaker b({1, 1'000});
  EXPECT_TRUE(b.OnFailure(0));
  EXPECT_TRUE(b.Allow(1'000));  // the trial
  EXPECT_EQ(b.state(), CircuitState::kHalfOpen);
  EXPECT_FALSE(b.Allow(1'000));  // only one
  EXPECT_TRUE(b.OnFailure(1'500));
  EXPECT_EQ(b.state(), CircuitState::kOpen);
  EXPECT_EQ(b.open_until_ms(), 2'500);
  EXPECT_FALSE(b.Allow(2'499));
  EXPECT_TRUE(b.Allow(2'500));
  b.OnSuccess();
  EXPECT_EQ(b.state(), CircuitState::kClosed);
  EXPECT_TRUE(b.Allow(2'501));
  EXPECT_TRUE(b.Allow(2'502));
  EXPECT_EQ(b.times_opened(), 2u);
  EXPECT_STREQ(CircuitStateName(CircuitState::kHalfOpen), "half_open");
}

}  // namespace
}  // namespace smetsmon::webhook
