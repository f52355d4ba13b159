#include "rules/outage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/fixtures.h"

namespace smetsmon::rules {
namespace {

using ::testing::HasSubstr;
using Kind = OutageSignal::Kind;

constexpr int64_t kSec = kMsPerSecond;
constexpr int64_t kMin = kMsPerMinute;
constexpr int64_t kDay0 = 1709251200000;                     // 2024-03-01T00:00:00Z
constexpr int64_t kT0 = kDay0 + 14 * kMsPerHour + 2 * kMin;  // 14:02 UTC

uint64_t Premises(int i) { return 1000000000000ULL + static_cast<uint64_t>(i); }

std::vector<Finding> OfKind(const FindingBook& book, FindingKind k) {
  std::vector<Finding> out;
  for (const auto& f : book.All()) {
    if (f.kind == k) out.push_back(f);
  }
  return out;
}

class OutageTest : public ::testing::Test {
 protected:
  OutageTest() : ref_(testing::LoadTestReference()) {
    eastern_ = ref_.areas->ByDistributorId(10);
    east_midlands_ = ref_.areas->ByDistributorId(11);
  }

  OutageTracker Make(OutageConfig c = {}, std::vector<uint64_t> installations = {}) {
    return OutageTracker(c, *ref_.areas, std::move(installations));
  }
  static void Signal(OutageTracker& t, Kind kind, int premises, AreaId area, int64_t ms) {
    OutageSignal s;
    s.premises = Premises(premises);
    s.device = 0xDB00000000000000ULL + static_cast<uint64_t>(premises) * 4 +
               (kind == Kind::kStart ? 0 : 1);  // the hub's id differs from the meter's
    s.area = area;
    s.time = {ms};
    s.kind = kind;
    t.Add(s);
  }
  // Starts of premises [first, first + n) in `area`, one every `step_ms` from `from`.
  static void Starts(OutageTracker& t, int first, int n, AreaId area, int64_t from,
                     int64_t step_ms) {
    for (int i = 0; i < n; ++i) Signal(t, Kind::kStart, first + i, area, from + i * step_ms);
  }
  // The 30-premises Eastern outage of the brief: starts every 4 s from 14:02.
  static int64_t StartOf(int i) { return kT0 + i * 4 * kSec; }

  catalog::ReferenceData ref_;
  AreaId eastern_, east_midlands_;
  FindingBook book_;
};

TEST_F(OutageTest, ThirtyPremisesWithinTwoMinutesOpenOneOutageThatRestorationsClose) {
  OutageTracker t = Make();
  // Delivered in time order with an evaluation every minute.
  int next = 0;
  for (int m = 1; m <= 3; ++m) {
    for (; next < 30 && StartOf(next) < kT0 + m * kMin; ++next) {
      Signal(t, Kind::kStart, next, eastern_, StartOf(next));
    }
    t.Evaluate({kT0 + m * kMin}, book_);
    if (m == 1) {
      EXPECT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 0u);  // 15 so far
    }
  }
  ASSERT_EQ(OfKind(book_, FindingKind::kPowerOutage).size(), 1u);
  const std::string id = "power_outage:area=Eastern:" + std::to_string(kT0);
  const Finding* open = book_.FindOpen(id);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->severity, Severity::kCritical);
  EXPECT_EQ(open->region, "central");
  EXPECT_EQ(open->area, eastern_);
  EXPECT_EQ(open->start.ms, kT0);
  EXPECT_EQ(open->figures.at("affected_premises"), 30);
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 30u);

  // 0-9: 8F35 after 1 minute (short); 10-19: 8F36 after 90 s (long by its code);
  // 20-29: 8F35 after 4 minutes (long by time).
  for (int i = 0; i < 10; ++i) Signal(t, Kind::kRestored, i, eastern_, StartOf(i) + kMin);
  t.Evaluate({kT0 + 3 * kMin}, book_);
  ASSERT_NE(book_.FindOpen(id), nullptr);
  EXPECT_EQ(t.Status(eastern_).restored, 10u);
  EXPECT_EQ(t.Status(eastern_).long_interruptions, 0u);
  for (int i = 10; i < 20; ++i) {
    Signal(t, Kind::kRestoredLong, i, eastern_, StartOf(i) + 90 * kSec);
  }
  for (int i = 20; i < 30; ++i) Signal(t, Kind::kRestored, i, eastern_, StartOf(i) + 4 * kMin);
  t.Evaluate({kT0 + 7 * kMin}, book_);

  EXPECT_EQ(book_.FindOpen(id), nullptr);
  const auto all = OfKind(book_, FindingKind::kPowerOutage);
  ASSERT_EQ(all.size(), 1u);
  const Finding& f = all[0];
  ASSERT_TRUE(f.end.has_value());
  EXPECT_EQ(f.end->ms, StartOf(29) + 4 * kMin);  // the last restoration
  EXPECT_EQ(f.figures.at("affected_premises"), 30);
  EXPECT_EQ(f.figures.at("restored_premises"), 30);
  EXPECT_EQ(f.figures.at("long_interruptions"), 20);
  EXPECT_EQ(f.figures.at("unrestored_premises"), 0);
  EXPECT_DOUBLE_EQ(f.figures.at("restored_share"), 1.0);
  EXPECT_EQ(f.figures.at("duration_ms"), static_cast<double>(StartOf(29) + 4 * kMin - kT0));
  EXPECT_EQ(f.figures.count("share_of_installations"), 0u);  // installations unknown
  const auto status = t.Status(eastern_);
  EXPECT_FALSE(status.outage_open);
  EXPECT_EQ(status.affected, 30u);
  EXPECT_EQ(status.restored, 30u);
  EXPECT_EQ(status.long_interruptions, 20u);
  EXPECT_EQ(status.open_outage_premises, 0u);
  EXPECT_TRUE(OfKind(book_, FindingKind::kCommsIncident).empty());
}

TEST_F(OutageTest, TheExplanationGivesPremisesShareAndRestorations) {
  std::vector<uint64_t> installations(ref_.areas->size(), 0);
  installations[eastern_.value] = 3'700'000;
  OutageConfig c;
  c.close_restored_share = 0.99;  // keep it open at 95 %
  OutageTracker t = Make(c, installations);
  Starts(t, 0, 240, eastern_, kT0, 200);  // 240 premises within 48 s
  for (int i = 0; i < 228; ++i) {
    Signal(t, i < 31 ? Kind::kRestoredLong : Kind::kRestored, i, eastern_, kT0 + 2 * kMin);
  }
  t.Evaluate({kT0 + 3 * kMin}, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  const Finding f = book_.Open().front();
  EXPECT_EQ(f.explanation,
            "Power outage in Eastern (UK Power Networks): 240 premises (0.0065 % of installations) "
            "lost supply from 14:02 UTC; 228 restored (95 %), 31 after 3 minutes or more");
  EXPECT_NEAR(f.figures.at("share_of_installations"), 240.0 / 3'700'000, 1e-12);
  EXPECT_EQ(f.figures.at("unrestored_premises"), 12);
}

TEST_F(OutageTest, TenPremisesDoNotOpenAnOutage) {
  OutageTracker t = Make();
  Starts(t, 0, 10, eastern_, kT0, 4 * kSec);
  for (int m = 1; m <= 10; ++m) t.Evaluate({kT0 + m * kMin}, book_);
  EXPECT_TRUE(book_.All().empty());
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 10u);
  EXPECT_FALSE(t.Status(eastern_).outage_open);
}

TEST_F(OutageTest, StartsSpreadOverTwoHoursDoNotOpenAnOutage) {
  OutageTracker t = Make();
  int next = 0;
  for (int m = 0; m <= 120; ++m) {
    for (; next < 60 && kT0 + next * 2 * kMin <= kT0 + m * kMin; ++next) {
      Signal(t, Kind::kStart, next, eastern_, kT0 + next * 2 * kMin);
    }
    t.Evaluate({kT0 + m * kMin}, book_);
  }
  EXPECT_TRUE(book_.All().empty());
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 60u);
}

TEST_F(OutageTest, ARestorationFloodWithoutOutageAlertsIsACommsIncident) {
  OutageTracker t = Make();
  // 500 restorations within 3 minutes across the central region's areas, no AD1 at all.
  const std::vector<int> central = {10, 11, 13, 14, 21};
  for (int i = 0; i < 500; ++i) {
    const AreaId area = ref_.areas->ByDistributorId(central[static_cast<size_t>(i) % 5]);
    Signal(t, i % 2 ? Kind::kRestoredLong : Kind::kRestored, i, area, kT0 + i * 360);
  }
  t.Evaluate({kT0 + 3 * kMin}, book_);
  EXPECT_TRUE(OfKind(book_, FindingKind::kPowerOutage).empty());
  const auto comms = OfKind(book_, FindingKind::kCommsIncident);
  ASSERT_EQ(comms.size(), 1u);
  const Finding& f = comms[0];
  EXPECT_EQ(f.id, "comms_incident:region=central:" + std::to_string(kT0));
  EXPECT_EQ(f.severity, Severity::kWarning);
  EXPECT_EQ(f.region, "central");
  EXPECT_EQ(f.area, kUnknownArea);
  EXPECT_EQ(f.figures.at("unmatched_restorations"), 500);
  EXPECT_EQ(f.figures.at("matched_share"), 0);
  EXPECT_THAT(f.explanation, HasSubstr("Communications incident in the central region"));
  EXPECT_THAT(f.explanation, HasSubstr("not a power cut"));
  EXPECT_THAT(f.explanation, HasSubstr("500 supply-restored alerts in the last 5 minutes"));
  EXPECT_THAT(f.explanation, HasSubstr("DNOs are not paged"));

  // Still open while the window holds 100 or more; closes below half the threshold.
  t.Evaluate({kT0 + 6 * kMin}, book_);  // restorations after 14:03 remain: 333
  EXPECT_EQ(book_.OpenCount(FindingKind::kCommsIncident), 1u);
  t.Evaluate({kT0 + 10 * kMin}, book_);
  EXPECT_EQ(book_.OpenCount(FindingKind::kCommsIncident), 0u);
  ASSERT_EQ(book_.closed().size(), 1u);
  EXPECT_EQ(book_.closed().back().end->ms, kT0 + 10 * kMin);
  EXPECT_EQ(book_.closed().back().figures.at("peak_unmatched_restorations"), 500);
}

TEST_F(OutageTest, RestorationsMatchingAnOpenOutageDoNotCountTowardComms) {
  OutageTracker t = Make();
  Starts(t, 0, 300, eastern_, kT0, 400);  // 300 premises within 2 minutes
  t.Evaluate({kT0 + 2 * kMin}, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  for (int i = 0; i < 300; ++i) {
    Signal(t, Kind::kRestored, i, eastern_, kT0 + 3 * kMin + i * 200);
  }
  t.Evaluate({kT0 + 4 * kMin}, book_);
  t.Evaluate({kT0 + 5 * kMin}, book_);
  EXPECT_TRUE(OfKind(book_, FindingKind::kCommsIncident).empty());
  EXPECT_EQ(t.Status(eastern_).restored, 300u);
}

TEST_F(OutageTest, ARestorationFloodInsideAnOpenOutageIsNotACommsIncident) {
  OutageTracker t = Make();
  Starts(t, 0, 30, eastern_, kT0, 4 * kSec);
  t.Evaluate({kT0 + 2 * kMin}, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  // 400 more premises of the area report restorations, though their hubs' AD1s never arrived.
  for (int i = 1000; i < 1400; ++i) Signal(t, Kind::kRestored, i, eastern_, kT0 + 3 * kMin);
  t.Evaluate({kT0 + 4 * kMin}, book_);
  EXPECT_TRUE(OfKind(book_, FindingKind::kCommsIncident).empty());
  EXPECT_EQ(t.Status(eastern_).affected, 30u);  // they are not counted as affected
}

TEST_F(OutageTest, LateOutOfOrderStartsWithinTheWindowStillCount) {
  OutageTracker t = Make();
  // The later 15 starts arrive first...
  for (int i = 15; i < 30; ++i) Signal(t, Kind::kStart, i, eastern_, StartOf(i));
  t.Evaluate({kT0 + 2 * kMin}, book_);
  EXPECT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 0u);
  // ...the earlier 15 a few minutes late.
  for (int i = 14; i >= 0; --i) Signal(t, Kind::kStart, i, eastern_, StartOf(i));
  t.Evaluate({kT0 + 6 * kMin}, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  const Finding f = book_.Open().front();
  EXPECT_EQ(f.start.ms, kT0);
  EXPECT_EQ(f.figures.at("affected_premises"), 30);
  // A start delivered while the outage is open joins it.
  Signal(t, Kind::kStart, 30, eastern_, kT0 + 3 * kMin);
  t.Evaluate({kT0 + 7 * kMin}, book_);
  EXPECT_EQ(book_.Open().front().figures.at("affected_premises"), 31);
}

TEST_F(OutageTest, ARestorationDeliveredBeforeItsStartIsMatched) {
  OutageTracker t = Make();
  for (int i = 0; i < 29; ++i) Signal(t, Kind::kStart, i, eastern_, StartOf(i));
  Signal(t, Kind::kRestored, 29, eastern_, StartOf(29) + 4 * kMin);  // before its AD1
  Signal(t, Kind::kStart, 29, eastern_, StartOf(29));
  t.Evaluate({kT0 + 7 * kMin}, book_);
  ASSERT_EQ(OfKind(book_, FindingKind::kPowerOutage).size(), 1u);
  const auto s = t.Status(eastern_);
  EXPECT_EQ(s.affected, 30u);
  EXPECT_EQ(s.restored, 1u);
  EXPECT_EQ(s.long_interruptions, 1u);  // 4 minutes after its start
  EXPECT_EQ(s.open_outage_premises, 29u);
}

TEST_F(OutageTest, LateStartsTurnARestorationFloodIntoAnOutageNotACommsIncident) {
  OutageTracker t = Make();
  for (int i = 0; i < 250; ++i) Signal(t, Kind::kRestored, i, eastern_, kT0 + 3 * kMin);
  for (int i = 0; i < 250; ++i) Signal(t, Kind::kStart, i, eastern_, kT0 + i * 200);
  t.Evaluate({kT0 + 4 * kMin}, book_);
  EXPECT_TRUE(OfKind(book_, FindingKind::kCommsIncident).empty());
  const auto outages = OfKind(book_, FindingKind::kPowerOutage);
  ASSERT_EQ(outages.size(), 1u);
  EXPECT_FALSE(outages[0].open());  // all restored: closed in the same evaluation
  EXPECT_EQ(outages[0].figures.at("restored_premises"), 250);
}

TEST_F(OutageTest, ThePremisesCapEvictsAndCounts) {
  OutageConfig c;
  c.max_premises = 10;
  OutageTracker t = Make(c);
  Starts(t, 0, 20, eastern_, kT0, kSec);
  EXPECT_EQ(t.tracked_premises(), 10u);
  EXPECT_EQ(t.evicted(), 10u);
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 10u);
  // Premises 19 is still tracked: its restoration matches.
  Signal(t, Kind::kRestored, 19, eastern_, kT0 + kMin);
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 9u);
  // The oldest went first: premises 0's restoration finds no outage, and its new record evicts
  // the oldest remaining one (premises 10).
  Signal(t, Kind::kRestored, 0, eastern_, kT0 + kMin);
  EXPECT_EQ(t.evicted(), 11u);
  EXPECT_EQ(t.tracked_premises(), 10u);
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 8u);
}

TEST_F(OutageTest, OldPremisesOutagesAreForgotten) {
  OutageTracker t = Make();
  Starts(t, 0, 5, eastern_, kT0, kSec);
  t.Evaluate({kT0 + kMin}, book_);
  EXPECT_EQ(t.tracked_premises(), 5u);
  t.Evaluate({kT0 + 49 * kMsPerHour}, book_);
  EXPECT_EQ(t.tracked_premises(), 0u);
  EXPECT_EQ(t.expired(), 5u);
  EXPECT_EQ(t.Status(eastern_).open_outage_premises, 0u);
  // A signal older than the age limit is dropped.
  Signal(t, Kind::kStart, 99, eastern_, kT0);
  EXPECT_EQ(t.dropped_signals(), 1u);
}

TEST_F(OutageTest, CloseByQuietPeriodReportsUnrestoredPremises) {
  OutageTracker t = Make();
  for (int i = 0; i < 30; ++i) Signal(t, Kind::kStart, i, eastern_, StartOf(i));
  for (int i = 0; i < 20; ++i) Signal(t, Kind::kRestored, i, eastern_, StartOf(i) + kMin);
  const int64_t last = StartOf(19) + kMin;  // the last signal (restoration of 19 at 14:05:16)
  for (int m = 3; m <= 30; ++m) {
    t.Evaluate({kT0 + m * kMin}, book_);
    if (kT0 + m * kMin - last < 15 * kMin) {
      EXPECT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u) << m;
    }
  }
  const auto all = OfKind(book_, FindingKind::kPowerOutage);
  ASSERT_EQ(all.size(), 1u);
  const Finding& f = all[0];
  ASSERT_FALSE(f.open());
  EXPECT_EQ(f.end->ms, last);
  EXPECT_EQ(f.figures.at("unrestored_premises"), 10);
  EXPECT_EQ(f.figures.at("restored_premises"), 20);
  EXPECT_THAT(f.explanation, HasSubstr("20 restored (67 %)"));
  EXPECT_THAT(f.explanation, HasSubstr("10 not reported restored"));
}

TEST_F(OutageTest, WithoutRestorationsTheOutageStaysOpen) {
  OutageTracker t = Make();
  for (int i = 0; i < 30; ++i) Signal(t, Kind::kStart, i, eastern_, StartOf(i));
  for (int m = 2; m <= 120; m += 2) t.Evaluate({kT0 + m * kMin}, book_);
  EXPECT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  EXPECT_THAT(book_.Open().front().explanation, HasSubstr("none restored yet"));
}

TEST_F(OutageTest, ANewOutageAfterTheFirstClosedHasItsOwnId) {
  OutageTracker t = Make();
  for (int i = 0; i < 30; ++i) Signal(t, Kind::kStart, i, eastern_, StartOf(i));
  for (int i = 0; i < 30; ++i) Signal(t, Kind::kRestored, i, eastern_, StartOf(i) + kMin);
  t.Evaluate({kT0 + 5 * kMin}, book_);
  EXPECT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 0u);
  // A late duplicate of an AD1 of the closed outage does not reopen anything.
  Signal(t, Kind::kStart, 0, eastern_, StartOf(0));
  t.Evaluate({kT0 + 6 * kMin}, book_);
  EXPECT_EQ(OfKind(book_, FindingKind::kPowerOutage).size(), 1u);
  const int64_t again = kT0 + kMsPerHour;
  for (int i = 0; i < 30; ++i) Signal(t, Kind::kStart, i, eastern_, again + i * kSec);
  t.Evaluate({again + kMin}, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  EXPECT_EQ(book_.Open().front().id, "power_outage:area=Eastern:" + std::to_string(again));
  EXPECT_EQ(t.Status(eastern_).affected, 30u);
  EXPECT_EQ(t.Status(eastern_).restored, 0u);
}

TEST_F(OutageTest, MinShareOfInstallations) {
  OutageConfig c;
  c.min_share = 0.05;
  std::vector<uint64_t> installations(ref_.areas->size(), 0);
  installations[eastern_.value] = 1000;
  OutageTracker t = Make(c, installations);
  Starts(t, 0, 40, eastern_, kT0, kSec);          // 4 % of Eastern
  Starts(t, 100, 40, east_midlands_, kT0, kSec);  // East Midlands: installations unknown
  t.Evaluate({kT0 + kMin}, book_);
  EXPECT_FALSE(t.Status(eastern_).outage_open);
  EXPECT_TRUE(t.Status(east_midlands_).outage_open);
  Starts(t, 40, 20, eastern_, kT0 + 40 * kSec, kSec);  // 6 %
  t.Evaluate({kT0 + 2 * kMin}, book_);
  EXPECT_TRUE(t.Status(eastern_).outage_open);
}

TEST_F(OutageTest, UnknownAreaSignalsOpenNothingAndAreCounted) {
  OutageTracker t = Make();
  Starts(t, 0, 50, kUnknownArea, kT0, kSec);
  for (int i = 0; i < 300; ++i) Signal(t, Kind::kRestored, 1000 + i, kUnknownArea, kT0 + kMin);
  t.Evaluate({kT0 + 2 * kMin}, book_);
  EXPECT_TRUE(book_.All().empty());
  EXPECT_EQ(t.unknown_area_signals(), 350u);
}

TEST(OutageConfigTest, ValidateRejectsNonsense) {
  EXPECT_TRUE(OutageConfig{}.Validate().ok());
  OutageConfig c;
  c.window_ms = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = OutageConfig{};
  c.close_restored_share = 1.5;
  EXPECT_FALSE(c.Validate().ok());
  c = OutageConfig{};
  c.min_premises = 0;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace smetsmon::rules
