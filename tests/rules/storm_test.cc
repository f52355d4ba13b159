#include "rules/storm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace smetsmon::rules {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMin = kMsPerMinute;
constexpr int64_t kDay0 = 1709251200000;  // 2024-03-01T00:00:00Z (the tests' hours are UTC)

StormScope EasternVoltage() {
  return {"area=Eastern category=voltage", AreaId{0}, "central", "Eastern voltage alerts"};
}

int HourOf(int64_t t) { return static_cast<int>((t % kMsPerDay) / kMsPerHour); }

// A +-10 % wobble, as counts over a 5-minute window wobble.
double Wobble(int64_t t, double rate) {
  static constexpr std::array<double, 3> kShape = {0.9, 1.0, 1.1};
  return rate * kShape[static_cast<size_t>((t / kMin) % 3)];
}

// Voltage alerts through a day: quiet nights, a solar-noon rise to 15 times the night, an evening
// peak (per hour, interpolated minute by minute).
double Diurnal(int64_t t) {
  static constexpr std::array<double, 25> kHours = {
      100,  100,  100, 100, 100,  120,  200,  350, 550, 800, 1100, 1400, 1500,
      1450, 1200, 900, 800, 1000, 1200, 1000, 600, 300, 150, 110,  100};
  const int64_t in_day = t % kMsPerDay;
  const auto h = static_cast<size_t>(in_day / kMsPerHour);
  const double f = static_cast<double>(in_day % kMsPerHour) / static_cast<double>(kMsPerHour);
  return kHours[h] + (kHours[h + 1] - kHours[h]) * f;
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
  // Observes every minute from `from` (inclusive) for `minutes` ticks; returns the next tick.
  int64_t Feed(StormDetector& d, FindingBook& book, int64_t from, int64_t minutes,
               const std::function<double(int64_t)>& rate,
               const StormScope& scope = EasternVoltage()) {
    for (int64_t i = 0; i < minutes; ++i) {
      const int64_t t = from + i * kMin;
      d.Observe({t}, HourOf(t), scope, rate(t), book);
    }
    return from + minutes * kMin;
  }
  int64_t Feed(int64_t from, int64_t minutes, const std::function<double(int64_t)>& rate) {
    return Feed(detector_, book_, from, minutes, rate);
  }
  int64_t Feed(int64_t from, int64_t minutes, double rate) {
    return Feed(from, minutes, [rate](int64_t) { return rate; });
  }
  static std::function<double(int64_t)> Flat(double rate) {
    return [rate](int64_t t) { return Wobble(t, rate); };
  }

  const StormDetector::ScopeState& State(const StormDetector& d,
                                         const StormScope& scope = EasternVoltage()) {
    const auto* s = d.Find(scope.key);
    EXPECT_NE(s, nullptr);
    return *s;
  }
  const StormDetector::ScopeState& State() { return State(detector_); }

  StormConfig config_;
  StormDetector detector_{config_};
  FindingBook book_;
};

TEST_F(StormTest, SteadyRatesAtEveryLevelNeverStormFromAColdStart) {
  config_.ceiling_per_hour = 100000;
  StormDetector d(config_);
  FindingBook book;
  // Three days of a steady rate (with its wobble) at levels from under the floor to near the
  // ceiling, each in its own scope, from a cold start at 07:13.
  const int64_t start = kDay0 + 7 * kMsPerHour + 13 * kMin;
  for (const double level : {50.0, 400.0, 5000.0, 60000.0}) {
    const StormScope scope{"flat=" + std::to_string(static_cast<int>(level)), kUnknownArea, "",
                           "flat"};
    Feed(d, book, start, 3 * 24 * 60, Flat(level), scope);
    EXPECT_EQ(State(d, scope).basis, StormBasis::kLearned);
    EXPECT_EQ(State(d, scope).known_hours(), 24);
    EXPECT_NEAR(State(d, scope).expected, level, level * 0.1);
  }
  EXPECT_TRUE(StormFindings(book).empty());
}

TEST_F(StormTest, ColdStartLearnsThenGoesProvisionalThenLearned) {
  int64_t t = Feed(kDay0 + 9 * kMsPerHour, 60, 1000);
  // An hour in: learning, no threshold at all (no ceiling configured), no storm at any rate.
  EXPECT_EQ(State().basis, StormBasis::kLearning);
  EXPECT_EQ(State().threshold, 0);
  t = Feed(t, 61, 1000);  // two hours of learned time: the level is warm
  EXPECT_EQ(State().basis, StormBasis::kProvisional);
  EXPECT_DOUBLE_EQ(State().threshold, 6000);  // provisional_factor x level
  // A day later the hour of day is known.
  t = Feed(t, 22 * 60, 1000);
  EXPECT_EQ(State().basis, StormBasis::kLearned);
  EXPECT_DOUBLE_EQ(State().threshold, 3000);
  const auto counts = detector_.CountByBasis();
  EXPECT_EQ(counts[static_cast<size_t>(StormBasis::kLearned)], 1u);
  EXPECT_TRUE(StormFindings(book_).empty());
}

TEST_F(StormTest, WhileLearningNothingButTheCeilingOpensAStorm) {
  // No ceiling: ten times anything seen, for an hour, in the first hour: learning, no storm.
  int64_t t = Feed(kDay0, 10, 100);
  t = Feed(t, 50, 50000);
  EXPECT_TRUE(StormFindings(book_).empty());
  EXPECT_EQ(State().basis, StormBasis::kLearning);

  // With a ceiling, a rate at or above it opens a storm reported as the ceiling's.
  config_.ceiling_per_hour = 20000;
  StormDetector d(config_);
  FindingBook book;
  t = Feed(d, book, kDay0, 10, Flat(100));
  t = Feed(d, book, t, 10, Flat(19000));  // under the ceiling: nothing
  EXPECT_TRUE(StormFindings(book).empty());
  t = Feed(d, book, t, 11, [](int64_t) { return 25000.0; });
  ASSERT_EQ(book.OpenCount(FindingKind::kStorm), 1u);
  const Finding f = book.Open().front();
  EXPECT_THAT(f.explanation,
              HasSubstr("at or above the absolute ceiling of 20,000/h (no baseline learned yet)"));
  EXPECT_EQ(f.figures.at("ceiling"), 1);
  EXPECT_EQ(f.figures.at("baseline_known"), 0);
  // A ceiling is a hard limit, not a normal: a flat day above it does not close by the plateau
  // policy. It clears below clear_ratio x the ceiling.
  t = Feed(d, book, t, 12 * 60, [](int64_t) { return 25000.0; });
  EXPECT_EQ(book.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(d.plateaus_accepted(), 0u);
  Feed(d, book, t, 11, Flat(100));
  EXPECT_EQ(book.OpenCount(FindingKind::kStorm), 0u);
}

TEST_F(StormTest, TheOrdinaryMiddayRiseAndEveningPeakAreNotStorms) {
  // Three days of the solar-noon pattern (15 times the night at noon), from a cold start at
  // midnight: the recent level follows the morning ramp on the first day, the learned hours do
  // from the second.
  Feed(kDay0, 3 * 24 * 60, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  EXPECT_TRUE(StormFindings(book_).empty());
  EXPECT_EQ(State().known_hours(), 24);
  EXPECT_EQ(State().basis, StormBasis::kLearned);
}

TEST_F(StormTest, ARateNormalAtNoonIsAStormAtNight) {
  int64_t t = Feed(kDay0, 2 * 24 * 60, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  // Day 3, 02:00: noon's usual rate, twelve hours early.
  t = Feed(t, 2 * 60, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  const int64_t burst = t;
  t = Feed(t, 11, 1500);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  const Finding f = book_.Open().front();
  EXPECT_EQ(f.start.ms, burst);
  EXPECT_EQ(f.figures.at("baseline_learned_for_hour"), 1);
  EXPECT_THAT(f.explanation, HasSubstr("times the usual rate for the hour of"));
  // Back to normal: it clears; at noon the same rate is not a storm.
  t = Feed(t, 9 * 60 + 49, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  ASSERT_EQ(HourOf(t), 12);
  Feed(t, 30, 1500);
  EXPECT_EQ(StormFindings(book_).size(), 1u);
}

TEST_F(StormTest, AStormOnTopOfTheDiurnalPatternOpensAndCloses) {
  int64_t t = Feed(kDay0, 2 * 24 * 60 + 14 * 60, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  // 14:00 on day 3: four times the afternoon's usual rate for an hour, then normal again.
  const int64_t burst = t;
  t = Feed(t, 60, [](int64_t t) { return 4 * Diurnal(t); });
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(book_.Open().front().start.ms, burst);
  const int64_t quiet = t;
  Feed(t, 30, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  ASSERT_EQ(StormFindings(book_).size(), 1u);
  EXPECT_EQ(book_.closed().back().end->ms, quiet);
}

TEST_F(StormTest, ProvisionalNeedsTheWiderMarginLearnedTheUsualOne) {
  // Cold start at 09:00, three hours at 200/h: provisional (threshold 6 x 200 = 1,200).
  int64_t t = Feed(kDay0 + 9 * kMsPerHour, 180, Flat(200));
  ASSERT_EQ(State().basis, StormBasis::kProvisional);
  t = Feed(t, 30, 1000);  // five times the level: not a storm yet
  EXPECT_TRUE(StormFindings(book_).empty());
  t = Feed(t, 30, Flat(200));
  t = Feed(t, 11, 2000);  // ten times
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_THAT(book_.Open().front().explanation,
              HasSubstr("times the recent level (this hour's usual rate not learned yet)"));
  t = Feed(t, 11, Flat(200));
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  // The next day at 16:00 (hours untouched by the bursts: a burst under the threshold is learned
  // as normal) the hour is learned: five times its usual rate is a storm.
  t = Feed(t, (kDay0 + kMsPerDay + 16 * kMsPerHour - t) / kMin, Flat(200));
  ASSERT_EQ(State().basis, StormBasis::kLearned);
  Feed(t, 11, 1000);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
}

TEST_F(StormTest, APlateauBecomesTheNewNormalAndTheStormCloses) {
  int64_t t = Feed(kDay0, 2 * 24 * 60, Flat(200));
  const int64_t step = t;
  // The rate steps up five-fold and stays there.
  t = Feed(t, 11, Flat(1000));
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(book_.Open().front().start.ms, step);
  // Six hours flat from the storm's opening closes it by the plateau policy.
  t = Feed(t, 6 * 60 - 1, Flat(1000));
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  t = Feed(t, 1, Flat(1000));
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
  EXPECT_EQ(detector_.plateaus_accepted(), 1u);
  const Finding& closed = book_.closed().back();
  EXPECT_THAT(closed.explanation, HasSubstr("closed by the plateau policy"));
  EXPECT_THAT(closed.explanation, HasSubstr("that level is now the baseline"));
  EXPECT_EQ(closed.figures.at("plateau_accepted"), 1);
  // Two more days at the new level: no storm; the baseline is the plateau.
  Feed(t, 2 * 24 * 60, Flat(1000));
  EXPECT_EQ(StormFindings(book_).size(), 1u);
  EXPECT_NEAR(State().expected, 1000, 100);
}

TEST_F(StormTest, AStormThatKeepsRisingIsNotAPlateau) {
  int64_t t = Feed(kDay0, 2 * 24 * 60, Flat(200));
  // Rising 10 % an hour for eight hours: never flat for six hours.
  double rate = 1000;
  for (int h = 0; h < 8; ++h, rate *= 1.1) t = Feed(t, 60, rate);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(detector_.plateaus_accepted(), 0u);
}

TEST_F(StormTest, TheBaselineIsNotPoisonedByTheStorm) {
  int64_t t = Feed(kDay0, 2 * 24 * 60, Flat(100));
  const std::array<double, 24> profile = State().profile;
  const double level = State().level;
  // Three hours of a storm that wanders too much to be a plateau.
  Feed(t, 3 * 60, [](int64_t t) { return 2000.0 + static_cast<double>((t / kMin) % 7) * 300; });
  EXPECT_TRUE(State().storming);
  EXPECT_EQ(State().profile, profile);
  EXPECT_EQ(State().level, level);
}

TEST_F(StormTest, ABurstShorterThanMinDurationNeverOpens) {
  int64_t t = Feed(kDay0, 2 * 24 * 60, Flat(150));
  t = Feed(t, 10, 5000);  // holds 9 minutes
  t = Feed(t, 1, 150);
  t = Feed(t, 10, 5000);
  Feed(t, 30, 150);
  EXPECT_TRUE(StormFindings(book_).empty());
  EXPECT_FALSE(State().open_since.has_value());
}

TEST_F(StormTest, HysteresisRateBetweenClearAndOpenThresholdsDoesNotClose) {
  int64_t t = Feed(kDay0, 2 * 24 * 60, 150);  // learned: threshold 450, clear level 315
  ASSERT_DOUBLE_EQ(State().threshold, 450);
  t = Feed(t, 20, 1000);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  t = Feed(t, 60, [](int64_t t) { return t % (2 * kMin) ? 400.0 : 350.0; });
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  // Dipping below 315 for 9 minutes and back up restarts the clear count.
  t = Feed(t, 9, 100);
  t = Feed(t, 1, 320);
  t = Feed(t, 9, 100);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  Feed(t, 11, 100);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 0u);
}

TEST_F(StormTest, TheFloorPreventsStormsOnTinyScopes) {
  const StormScope tiny{"dmc=Tiny category=voltage", kUnknownArea, "", "Tiny DMC voltage alerts"};
  int64_t t = Feed(detector_, book_, kDay0, 2 * 24 * 60, Flat(2), tiny);
  EXPECT_DOUBLE_EQ(State(detector_, tiny).threshold, 60);  // the floor, not 3 x 2
  t = Feed(
      detector_, book_, t, 120, [](int64_t) { return 50.0; }, tiny);
  EXPECT_TRUE(StormFindings(book_).empty());
  Feed(
      detector_, book_, t, 11, [](int64_t) { return 60.0; }, tiny);
  EXPECT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
}

TEST_F(StormTest, TheExplanationContainsTheNumbers) {
  int64_t t = Feed(kDay0, 2 * 24 * 60 + 12 * 60 + 5, 150);  // day 3, 12:05
  Feed(t, 11, 1240);
  ASSERT_EQ(book_.OpenCount(FindingKind::kStorm), 1u);
  EXPECT_EQ(book_.Open().front().explanation,
            "Eastern voltage alerts at 1,240/h, 8.3 times the usual rate for the hour of 150/h "
            "(storm threshold 450/h), since 12:05 UTC");
}

TEST_F(StormTest, RestartFromStateContinuesAsIfUninterrupted) {
  const auto traffic = [](int64_t t) {
    const double storm =
        (t >= kDay0 + 2 * kMsPerDay + 3 * kMsPerHour && t < kDay0 + 2 * kMsPerDay + 5 * kMsPerHour)
            ? 5
            : 1;
    return storm * Wobble(t, Diurnal(t));
  };
  const int64_t end = 3 * 24 * 60;
  // Uninterrupted.
  FindingBook whole;
  StormDetector a(config_);
  Feed(a, whole, kDay0, end, traffic);
  // Stopped at day 3, 04:00 (mid-storm), state saved and loaded into a new detector.
  FindingBook split;
  StormDetector b(config_);
  const int64_t cut = 2 * 24 * 60 + 4 * 60;
  const int64_t t = Feed(b, split, kDay0, cut, traffic);
  BinaryWriter w = BinaryWriter::ToMemory();
  b.SaveState(w);
  const std::string bytes = w.TakeBytes();
  StormDetector c(config_);
  BinaryReader r = BinaryReader::FromMemory(bytes);
  ASSERT_TRUE(c.LoadState(r, 14).ok());
  ASSERT_TRUE(r.Finish().ok());
  Feed(c, split, t, end - cut, traffic);

  const auto fa = StormFindings(whole), fb = StormFindings(split);
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fa[0].id, fb[0].id);
  EXPECT_EQ(fa[0].end, fb[0].end);
  EXPECT_EQ(fa[0].explanation, fb[0].explanation);
  EXPECT_EQ(State(a).profile, State(c).profile);
}

TEST_F(StormTest, ACheckpointTakenUnderOtherSettingsOrDamagedIsRefused) {
  Feed(kDay0, 300, Flat(100));
  BinaryWriter w = BinaryWriter::ToMemory();
  detector_.SaveState(w);
  const std::string bytes = w.TakeBytes();
  StormConfig other = config_;
  other.plateau_after_ms = 3 * kMsPerHour;
  StormDetector d(other);
  BinaryReader r = BinaryReader::FromMemory(bytes);
  EXPECT_EQ(d.LoadState(r, 14).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.scope_count(), 0u);
  for (size_t cut : {bytes.size() / 2, bytes.size() - 3}) {
    StormDetector e(config_);
    BinaryReader t = BinaryReader::FromMemory(std::string_view(bytes).substr(0, cut));
    EXPECT_EQ(e.LoadState(t, 14).code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(e.scope_count(), 0u);
  }
}

TEST_F(StormTest, SeededBaselinesDetectFromTheFirstHourWithoutFalseAlarms) {
  // History: two days of the pattern, baselines exported.
  Feed(kDay0, 2 * 24 * 60, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  BinaryWriter w = BinaryWriter::ToMemory();
  detector_.SaveBaselines(w);
  const std::string seed = w.TakeBytes();

  // A fresh detector on day 3, seeded: learned at once; normal traffic is quiet, a burst at
  // 10:00 (an hour into the live stream) is a storm.
  StormDetector seeded(config_);
  BinaryReader r = BinaryReader::FromMemory(seed);
  size_t n = 0;
  ASSERT_TRUE(seeded.SeedBaselines(r, 14, &n).ok());
  EXPECT_EQ(n, 1u);
  FindingBook book;
  const int64_t start = kDay0 + 2 * kMsPerDay + 9 * kMsPerHour;
  int64_t t = Feed(seeded, book, start, 1, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  EXPECT_EQ(State(seeded).basis, StormBasis::kLearned);
  t = Feed(seeded, book, t, 59, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  EXPECT_TRUE(StormFindings(book).empty());
  t = Feed(seeded, book, t, 11, [](int64_t t) { return 5 * Diurnal(t); });
  EXPECT_EQ(book.OpenCount(FindingKind::kStorm), 1u);

  // Unseeded, the same hour is still learning: the burst is not a storm.
  StormDetector fresh(config_);
  FindingBook book2;
  t = Feed(fresh, book2, start, 60, [](int64_t t) { return Wobble(t, Diurnal(t)); });
  Feed(fresh, book2, t, 11, [](int64_t t) { return 5 * Diurnal(t); });
  EXPECT_TRUE(StormFindings(book2).empty());

  // Baselines learned under other learning settings are refused.
  StormConfig other = config_;
  other.level_half_life_ms = kMsPerHour;
  StormDetector d(other);
  BinaryReader r2 = BinaryReader::FromMemory(seed);
  EXPECT_EQ(d.SeedBaselines(r2, 14, &n).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.scope_count(), 0u);
}

TEST_F(StormTest, TheScopeCapRefusesAndCountsNewScopes) {
  StormConfig c;
  c.max_scopes = 2;
  StormDetector d(c);
  FindingBook book;
  const StormScope a{"a", kUnknownArea, "", "A"}, b{"b", kUnknownArea, "", "B"},
      x{"x", kUnknownArea, "", "X"};
  for (int i = 0; i < 3; ++i) {
    d.Observe({kDay0 + i * kMin}, 0, a, 10, book);
    d.Observe({kDay0 + i * kMin}, 0, b, 10, book);
    d.Observe({kDay0 + i * kMin}, 0, x, 10, book);
  }
  EXPECT_EQ(d.scope_count(), 2u);
  EXPECT_EQ(d.dropped_scopes(), 3u);
  EXPECT_EQ(d.Find("x"), nullptr);
}

TEST_F(StormTest, AnObservationFromThePastIsIgnoredAndCounted) {
  int64_t t = Feed(kDay0, 60, 100);
  detector_.Observe({t - 10 * kMin}, 0, EasternVoltage(), 0, book_);
  EXPECT_EQ(detector_.out_of_order(), 1u);
}

TEST(StormConfigTest, ValidateRejectsNonsense) {
  EXPECT_TRUE(StormConfig{}.Validate().ok());
  const auto bad = [](const std::function<void(StormConfig&)>& change) {
    StormConfig c;
    change(c);
    return !c.Validate().ok();
  };
  EXPECT_TRUE(bad([](StormConfig& c) { c.clear_ratio = 1.5; }));
  EXPECT_TRUE(bad([](StormConfig& c) { c.factor = 0.5; }));
  EXPECT_TRUE(bad([](StormConfig& c) { c.provisional_factor = 2; }));  // below factor
  EXPECT_TRUE(bad([](StormConfig& c) { c.ceiling_per_hour = 10; }));   // below the floor
  EXPECT_TRUE(bad([](StormConfig& c) { c.plateau_tolerance = 1; }));
  EXPECT_TRUE(bad([](StormConfig& c) { c.profile_min_coverage_ms = 2 * kMsPerHour; }));
  EXPECT_TRUE(bad([](StormConfig& c) { c.max_scopes = 0; }));
}

}  // namespace
}  // namespace smetsmon::rules
