#include "rules/storm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace smetsmon::rules {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMin = kMsPerMinute;
constexpr int64_t kDay0 = 1709251200000;  // 2024-03-01T00:00:00Z
constexpr int64_t kNine = kDay0 + 9 * kMsPerHour;

StormScope EasternVoltage() {
  return {"area=Eastern category=voltage", AreaId{0}, "central", "Eastern voltage alerts"};
}

std::vector<Finding> StormFindings(const FindingBook& book) {
  std::vector<Finding> out;
  for (const auto& f : book.All()) {
    if (f.kind == FindingKind::kStorm) out.push_back(f);
  }
  return out;
}

class StormTest : public ::testing::Test {
 protected:
  // Observes `rate` every minute from `from` (inclusive) for `minutes` ticks; returns the time of
  // the next tick.
  int64_t Feed(int64_t from, int minutes, double rate, const StormScope& scope = EasternVoltage()) {
    for (int i = 0; i < minutes; ++i) detector_.Observe({from + i * kMin}, scope, rate, book_);
    return from + minutes * kMin;
  }
  // Three hours at 150/h from 09:00: warmed up, baseline 150, threshold 450.
  int64_t WarmUp(double rate = 150) { return Feed(kNine, 180, rate); }

  const StormDetector::ScopeState& State(const StormScope& scope = EasternVoltage()) {
    const auto* s = detector_.Find(scope.key);
    EXPECT_NE(s, nullptr);
    return *s;
  }

  StormConfig config_;
  StormDetector detector_{config_};
  FindingBook book_;
};

TEST_F(StormTest, ASteadyRateNeverStorms) {
  // Two days of a steady rate with a +-40 % wobble.
  for (int i = 0; i < 2 * 24 * 60; ++i) {
    detector_.Observe({kDay0 + i * kMin}, EasternVoltage(), i % 2 ? 140.0 : 60.0, book_);
  }
  EXPECT_TRUE(StormFindings(book_).empty());
  EXPECT_TRUE(State().warmed_up);
  // The mean is 100: the warm-up averages what it saw (no bias towards the first observation),
  // then the EWMA keeps it there.
  EXPECT_NEAR(State().baseline, 100, 1);
  EXPECT_FALSE(State().storming);
}

TEST_F(StormTest, ASustainedBurstOpensAfterMinDurationAndClosesAfterTheClearDuration) {
  const int64_t burst = WarmUp();
  EXPECT_DOUBLE_EQ(State().threshold, 450);
  // 10 ticks at 1,000/h: the condition has held 9 minutes, not yet open.
  int64_t t = Feed(burst, 10, 1000);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  EXPECT_TRUE(State().open_since.has_value());
  // The 11th tick is 10 minutes after the first: opens, dated from the first.
  t = Feed(t, 1, 1000);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  const std::string id = "storm:area=Eastern category=voltage:" + std::to_string(burst);
  const Finding* f = book_.FindOpen(id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->start.ms, burst);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->scope, "area=Eastern category=voltage");
  EXPECT_EQ(f->region, "central");
  EXPECT_EQ(f->area, AreaId{0});
  EXPECT_DOUBLE_EQ(f->figures.at("rate_per_hour"), 1000);
  EXPECT_DOUBLE_EQ(f->figures.at("threshold_per_hour"), 450);
  EXPECT_NEAR(f->figures.at("baseline_per_hour"), 150, 1e-6);
  EXPECT_NEAR(f->figures.at("ratio"), 1000.0 / 150, 1e-6);

  t = Feed(t, 60, 1200);  // an hour more; the id stays the same
  ASSERT_NE(book_.FindOpen(id), nullptr);
  EXPECT_DOUBLE_EQ(book_.FindOpen(id)->figures.at("peak_per_hour"), 1200);

  // Back to normal: the clear condition (< 0.7 * 450 = 315) must hold 10 minutes too.
  const int64_t quiet = t;
  t = Feed(t, 10, 150);
  EXPECT_NE(book_.FindOpen(id), nullptr);
  Feed(t, 1, 150);
  EXPECT_EQ(book_.FindOpen(id), nullptr);
  ASSERT_EQ(book_.closed().size(), 1u);
  const Finding& closed = book_.closed().back();
  EXPECT_EQ(closed.id, id);
  EXPECT_EQ(closed.start.ms, burst);
  ASSERT_TRUE(closed.end.has_value());
  EXPECT_EQ(closed.end->ms, quiet);
  EXPECT_FALSE(State().storming);
}

TEST_F(StormTest, ABurstShorterThanMinDurationNeverOpens) {
  int64_t t = WarmUp();
  t = Feed(t, 10, 5000);  // holds 9 minutes
  t = Feed(t, 1, 150);
  t = Feed(t, 10, 5000);
  Feed(t, 30, 150);
  EXPECT_TRUE(StormFindings(book_).empty());
  EXPECT_FALSE(State().open_since.has_value());
}

TEST_F(StormTest, HysteresisRateBetweenClearAndOpenThresholdsDoesNotClose) {
  int64_t t = WarmUp();
  t = Feed(t, 20, 1000);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  // 400/h: below the open threshold (450) but above the clear level (315), for an hour.
  t = Feed(t, 60, 400);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_TRUE(State().storming);
  // Dipping below 315 for 9 minutes and back up restarts the clear count.
  t = Feed(t, 9, 100);
  t = Feed(t, 1, 320);
  t = Feed(t, 9, 100);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  Feed(t, 11, 100);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  EXPECT_EQ(book_.closed().size(), 1u);
}

TEST_F(StormTest, TheBaselineIsNotPoisonedByTheStorm) {
  int64_t t = WarmUp(100);
  EXPECT_NEAR(State().baseline, 100, 1e-9);
  t = Feed(t, 6 * 60, 2000);  // six hours of storm
  EXPECT_TRUE(State().storming);
  EXPECT_NEAR(State().baseline, 100, 1e-9);
  EXPECT_DOUBLE_EQ(State().threshold, 300);
  t = Feed(t, 20, 100);
  EXPECT_FALSE(State().storming);
  EXPECT_NEAR(State().baseline, 100, 1e-9);
  // A second burst is still measured against the old baseline.
  Feed(t, 11, 400);
  EXPECT_TRUE(State().storming);
  EXPECT_EQ(StormFindings(book_).size(), 2u);
}

TEST_F(StormTest, ABurstThatDoesNotBecomeAStormDoesNotMoveTheBaseline) {
  int64_t t = WarmUp(100);
  t = Feed(t, 9, 5000);
  EXPECT_NEAR(State().baseline, 100, 1e-9);
  Feed(t, 1, 100);
  EXPECT_NEAR(State().baseline, 100, 1e-9);
}

TEST_F(StormTest, TheBaselineFollowsSlowChangesWithTheHalfLife) {
  int64_t t = WarmUp(100);
  // 24 hours (one half-life) at 200/h, which is below the threshold (300): halfway there.
  Feed(t, 24 * 60, 200);
  EXPECT_NEAR(State().baseline, 150, 1);
  EXPECT_TRUE(StormFindings(book_).empty());
}

TEST_F(StormTest, TheFloorPreventsStormsOnTinyScopes) {
  const StormScope tiny{"dmc=Tiny category=voltage", kUnknownArea, "", "Tiny DMC voltage alerts"};
  int64_t t = Feed(kNine, 180, 2, tiny);        // baseline 2/h
  EXPECT_DOUBLE_EQ(State(tiny).threshold, 60);  // the floor, not 3 x 2
  t = Feed(t, 120, 50, tiny);                   // 25 times the baseline, under the floor
  EXPECT_TRUE(StormFindings(book_).empty());
  Feed(t, 11, 60, tiny);  // at the floor
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
}

TEST_F(StormTest, DuringWarmUpOnlyFactorTimesFloorApplies) {
  // 30 minutes of history: no baseline yet, the threshold is 3 x 60 = 180.
  int64_t t = Feed(kNine, 30, 20);
  EXPECT_FALSE(State().warmed_up);
  EXPECT_DOUBLE_EQ(State().threshold, 180);
  t = Feed(t, 15, 170);  // 8.5 x the early rate, still under 180
  EXPECT_TRUE(StormFindings(book_).empty());
  Feed(t, 11, 200);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  const Finding f = book_.Open().front();
  EXPECT_THAT(f.explanation, HasSubstr("no baseline learned yet"));
  EXPECT_DOUBLE_EQ(f.figures.at("ratio"), 0);
}

TEST_F(StormTest, CriticalAtThreeTimesTheThreshold) {
  int64_t t = WarmUp();
  t = Feed(t, 11, 1349);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(book_.Open().front().severity, Severity::kWarning);
  Feed(t, 1, 1350);
  EXPECT_EQ(book_.Open().front().severity, Severity::kCritical);
}

TEST_F(StormTest, TheScopeCapRefusesAndCountsNewScopes) {
  StormConfig c;
  c.max_scopes = 2;
  StormDetector d(c);
  FindingBook book;
  const StormScope a{"a", kUnknownArea, "", "A"}, b{"b", kUnknownArea, "", "B"},
      x{"x", kUnknownArea, "", "X"};
  for (int i = 0; i < 3; ++i) {
    d.Observe({kNine + i * kMin}, a, 10, book);
    d.Observe({kNine + i * kMin}, b, 10, book);
    d.Observe({kNine + i * kMin}, x, 10, book);
  }
  EXPECT_EQ(d.scope_count(), 2u);
  EXPECT_EQ(d.dropped_scopes(), 3u);
  EXPECT_NE(d.Find("a"), nullptr);
  EXPECT_EQ(d.Find("x"), nullptr);
}

TEST_F(StormTest, TheExplanationContainsTheNumbers) {
  int64_t t = WarmUp();  // 09:00-12:00 at 150/h
  t = Feed(t, 5, 150);   // until 12:04
  ASSERT_EQ(t, kDay0 + 12 * kMsPerHour + 5 * kMin);
  Feed(t, 11, 1240);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(book_.Open().front().explanation,
            "Eastern voltage alerts at 1,240/h, 8.3 times the learned baseline of 150/h (storm "
            "threshold 450/h), since 12:05 UTC");
}

TEST_F(StormTest, TheClosedExplanationGivesTheSpanAndPeak) {
  int64_t t = WarmUp();
  t = Feed(t, 5, 150);
  t = Feed(t, 30, 1240);
  t = Feed(t, 1, 2000);
  Feed(t, 11, 100);
  ASSERT_EQ(book_.closed().size(), 1u);
  const Finding& f = book_.closed().back();
  EXPECT_THAT(f.explanation, HasSubstr("storm from 12:05 to 12:36 UTC"));
  EXPECT_THAT(f.explanation, HasSubstr("peak 2,000/h, 13.3 times the learned baseline of 150/h"));
  EXPECT_EQ(f.severity, Severity::kCritical);  // the peak reached 3 x 450
}

TEST_F(StormTest, IrregularTicksAndJumps) {
  int64_t t = WarmUp();
  // A tick 25 minutes after the previous one, both high: the condition held 25 minutes.
  detector_.Observe({t}, EasternVoltage(), 1000, book_);
  detector_.Observe({t + 25 * kMin}, EasternVoltage(), 1000, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(book_.Open().front().start.ms, t);
  // An observation from the past is ignored and counted.
  detector_.Observe({t + 10 * kMin}, EasternVoltage(), 0, book_);
  EXPECT_EQ(detector_.out_of_order(), 1u);
  // A jump of a day at a normal rate: clears only once the quiet stretch held 10 minutes.
  const int64_t later = t + kMsPerDay;
  detector_.Observe({later}, EasternVoltage(), 100, book_);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  detector_.Observe({later + 10 * kMin}, EasternVoltage(), 100, book_);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  EXPECT_EQ(book_.closed().back().end->ms, later);
}

TEST_F(StormTest, ReplayGivesTheSameFindings) {
  auto run = [](FindingBook& book) {
    StormDetector d{StormConfig{}};
    const std::vector<double> hours = {150, 150, 150, 900, 1200, 1100, 300, 100, 100};
    for (int i = 0; i < 9 * 60; ++i) {
      d.Observe({kNine + i * kMin}, EasternVoltage(), hours[static_cast<size_t>(i / 60)], book);
    }
  };
  FindingBook a, b;
  run(a);
  run(b);
  const auto fa = a.All(), fb = b.All();
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fa[0].id, fb[0].id);
  ASSERT_TRUE(fa[0].end.has_value());
  EXPECT_EQ(fa[0].end, fb[0].end);
  EXPECT_EQ(fa[0].explanation, fb[0].explanation);
}

TEST(StormConfigTest, ValidateRejectsNonsense) {
  EXPECT_TRUE(StormConfig{}.Validate().ok());
  StormConfig c;
  c.clear_ratio = 1.5;
  EXPECT_FALSE(c.Validate().ok());
  c = StormConfig{};
  c.factor = 0.5;
  EXPECT_FALSE(c.Validate().ok());
  c = StormConfig{};
  c.max_scopes = 0;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace smetsmon::rules
