#include "rules/outage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "base/binary_file.h"
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

// ---- Final tally -------------------------------------------------------------------------

// 40 Eastern premises lose supply from kT0 (one every 2 s); 38 are restored at kT0 + 10 min, so
// the outage closes then at 95 % restored. Returns its id.
std::string CutAndCloseAt95(OutageTracker& t, FindingBook& book, AreaId area) {
  for (int i = 0; i < 40; ++i) {
    OutageSignal s;
    s.premises = Premises(i);
    s.area = area;
    s.time = {kT0 + i * 2 * kSec};
    s.kind = Kind::kStart;
    t.Add(s);
  }
  t.Evaluate({kT0 + 2 * kMin}, book);
  for (int i = 0; i < 38; ++i) {
    OutageSignal s;
    s.premises = Premises(i);
    s.area = area;
    s.time = {kT0 + 10 * kMin};
    s.kind = i % 2 ? Kind::kRestoredLong : Kind::kRestored;
    t.Add(s);
  }
  t.Evaluate({kT0 + 11 * kMin}, book);
  return "power_outage:area=Eastern:" + std::to_string(kT0);
}

const Finding* Closed(const FindingBook& book, const std::string& id) {
  for (const Finding& f : book.closed()) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

TEST_F(OutageTest, RestorationsAfterCloseCountUntilTheTallyEndsAndNotAfter) {
  OutageTracker t = Make();  // final_tally_after: 24 h
  const std::string id = CutAndCloseAt95(t, book_, eastern_);
  const int64_t end = kT0 + 10 * kMin;  // the last restoration before the close
  const Finding* f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->end->ms, end);
  // At close: the figures then, counting, and when the tally ends.
  EXPECT_EQ(f->tally, Tally::kCounting);
  EXPECT_FALSE(f->figures_final());
  ASSERT_TRUE(f->tally_until.has_value());
  EXPECT_EQ(f->tally_until->ms, end + 24 * kMsPerHour);
  EXPECT_EQ(f->figures.at("affected_premises"), 40);
  EXPECT_EQ(f->figures.at("restored_premises"), 38);
  EXPECT_EQ(f->figures.at("restored_premises_at_close"), 38);
  EXPECT_EQ(f->figures.at("affected_premises_at_close"), 40);
  EXPECT_EQ(f->figures.at("restored_after_close"), 0);
  EXPECT_EQ(f->figures.at("unrestored_premises"), 2);
  EXPECT_EQ(t.counting_outages(), 1u);

  // Premises 38 comes back 5 hours later (its restoration says long): counted.
  Signal(t, Kind::kRestoredLong, 38, eastern_, end + 5 * kMsPerHour);
  t.Evaluate({end + 6 * kMsPerHour}, book_);
  f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kCounting);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  EXPECT_EQ(f->figures.at("restored_premises_at_close"), 38);
  EXPECT_EQ(f->figures.at("restored_after_close"), 1);
  // Each restoration came 3 minutes or more after its start: 38 long at close, and premises 38.
  EXPECT_EQ(f->figures.at("long_interruptions"), 39);
  EXPECT_EQ(f->figures.at("unrestored_premises"), 1);
  EXPECT_EQ(f->end->ms, end);  // the outage still ended when it closed
  EXPECT_THAT(f->explanation, HasSubstr("over 95 % restored by 14:12 UTC"));
  EXPECT_THAT(f->explanation, HasSubstr("1 more restored since it closed, counted until"));
  EXPECT_EQ(t.Status(eastern_).restored, 39u);

  // Premises 39's restoration is stamped 30 s after the tally ends: not counted, though it
  // arrives before the evaluation that makes the figures final.
  Signal(t, Kind::kRestored, 39, eastern_, end + 24 * kMsPerHour + 30 * kSec);
  t.Evaluate({end + 24 * kMsPerHour + kMin}, book_);
  f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kFinal);
  EXPECT_TRUE(f->figures_final());
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  EXPECT_EQ(f->figures.at("restored_after_close"), 1);
  EXPECT_EQ(f->figures.at("unrestored_premises"), 1);
  EXPECT_THAT(f->explanation,
              HasSubstr("final tally: 39 of 40 restored (98 %), 1 of them after it closed; 1 not "
                        "reported restored by"));
  EXPECT_EQ(t.counting_outages(), 0u);

  // Final means final: later evaluations change nothing.
  const Finding final_copy = *f;
  t.Evaluate({end + 30 * kMsPerHour}, book_);
  f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->figures, final_copy.figures);
  EXPECT_EQ(f->explanation, final_copy.explanation);
}

TEST_F(OutageTest, ALateOutageAlertOfAClosedOutageAddsAnAffectedPremises) {
  OutageTracker t = Make();
  const std::string id = CutAndCloseAt95(t, book_, eastern_);
  // Premises 40's hub AD1 (stamped inside the outage) and its meter's restoration both arrive
  // an hour after the close.
  Signal(t, Kind::kRestored, 40, eastern_, kT0 + 9 * kMin);
  Signal(t, Kind::kStart, 40, eastern_, kT0 + 30 * kSec);
  // An AD1 stamped after the outage's end belongs to a new episode, not to this outage.
  Signal(t, Kind::kStart, 41, eastern_, kT0 + 20 * kMin);
  t.Evaluate({kT0 + 70 * kMin}, book_);
  const Finding* f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->figures.at("affected_premises"), 41);
  EXPECT_EQ(f->figures.at("affected_premises_at_close"), 40);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  EXPECT_EQ(f->figures.at("restored_after_close"), 1);
  EXPECT_EQ(f->figures.at("unrestored_premises"), 2);
}

TEST_F(OutageTest, ANewOutageInTheAreaDoesNotEndThePreviousOnesTally) {
  OutageTracker t = Make();
  const std::string first = CutAndCloseAt95(t, book_, eastern_);
  // Two hours later 30 other Eastern premises lose supply: a second outage opens.
  const int64_t again = kT0 + 2 * kMsPerHour;
  Starts(t, 100, 30, eastern_, again, kSec);
  t.Evaluate({again + kMin}, book_);
  ASSERT_EQ(book_.OpenCount(FindingKind::kPowerOutage), 1u);
  const std::string second = book_.Open().front().id;
  ASSERT_NE(second, first);
  // Premises 38 (of the first) and 100 (of the second) are restored.
  Signal(t, Kind::kRestored, 38, eastern_, again + 2 * kMin);
  Signal(t, Kind::kRestored, 100, eastern_, again + 2 * kMin);
  t.Evaluate({again + 3 * kMin}, book_);
  const Finding* f = Closed(book_, first);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kCounting);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  EXPECT_EQ(f->figures.at("restored_after_close"), 1);
  EXPECT_EQ(f->figures.at("affected_premises"), 40);
  const Finding* open = book_.FindOpen(second);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->figures.at("affected_premises"), 30);
  EXPECT_EQ(open->figures.at("restored_premises"), 1);
  EXPECT_EQ(t.counting_outages(), 1u);
  // The first one's tally still ends on its own time; the second (closed by the quiet period, 15
  // minutes after its restoration) counts until its own.
  t.Evaluate({kT0 + 10 * kMin + 24 * kMsPerHour}, book_);
  f = Closed(book_, first);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kFinal);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  const Finding* g = Closed(book_, second);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->tally, Tally::kCounting);
  EXPECT_EQ(g->end->ms, again + 2 * kMin);
  EXPECT_EQ(t.counting_outages(), 1u);
}

TEST_F(OutageTest, UnrestoredPremisesAreHeldForTheTallyBeyondTheirAge) {
  OutageConfig c;
  c.max_outage_age_ms = 2 * kMsPerHour;
  c.final_tally_after_ms = 6 * kMsPerHour;
  OutageTracker t = Make(c);
  const std::string id = CutAndCloseAt95(t, book_, eastern_);
  // Swept hourly over 5 hours: premises 38 and 39 (started at kT0, never restored) would be
  // forgotten 2 hours after their start without the tally.
  for (int h = 1; h <= 5; ++h) t.Evaluate({kT0 + h * kMsPerHour}, book_);
  EXPECT_EQ(t.expired(), 38u);  // the restored ones went
  EXPECT_EQ(t.tracked_premises(), 2u);
  Signal(t, Kind::kRestored, 39, eastern_, kT0 + 5 * kMsPerHour);
  t.Evaluate({kT0 + 5 * kMsPerHour + kMin}, book_);
  EXPECT_EQ(Closed(book_, id)->figures.at("restored_after_close"), 1);
  // Once the tally is final, the unrestored one is forgotten too.
  t.Evaluate({kT0 + 7 * kMsPerHour}, book_);
  EXPECT_EQ(Closed(book_, id)->tally, Tally::kFinal);
  t.Evaluate({kT0 + 8 * kMsPerHour}, book_);
  EXPECT_EQ(t.tracked_premises(), 0u);
}

TEST_F(OutageTest, HeldPremisesEvictedByThePremisesCapAreCounted) {
  OutageConfig c;
  c.max_premises = 45;
  OutageTracker t = Make(c);
  const std::string id = CutAndCloseAt95(t, book_, eastern_);
  ASSERT_EQ(t.tracked_premises(), 40u);
  // Restorations of 100 other premises (no outage known) an hour later overflow the table: the
  // oldest by last signal go, every premises of the cut among them, the two unrestored ones held
  // for the tally too.
  for (int i = 0; i < 100; ++i) Signal(t, Kind::kRestored, 500 + i, eastern_, kT0 + kMsPerHour);
  EXPECT_GE(t.evicted(), 40u);
  EXPECT_EQ(t.tally_premises_evicted(), 2u);
  // Their restorations no longer count: the tally cannot match them.
  Signal(t, Kind::kRestored, 38, eastern_, kT0 + 2 * kMsPerHour);
  t.Evaluate({kT0 + 3 * kMsPerHour}, book_);
  EXPECT_EQ(Closed(book_, id)->figures.at("restored_after_close"), 0);
}

TEST_F(OutageTest, WithoutATallyWindowTheFiguresAreFinalAtClose) {
  OutageConfig c;
  c.final_tally_after_ms = 0;
  OutageTracker t = Make(c);
  const std::string id = CutAndCloseAt95(t, book_, eastern_);
  const Finding* f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kNone);
  EXPECT_FALSE(f->tally_until.has_value());
  EXPECT_TRUE(f->figures_final());
  Signal(t, Kind::kRestored, 38, eastern_, kT0 + 20 * kMin);
  t.Evaluate({kT0 + 30 * kMin}, book_);
  f = Closed(book_, id);
  EXPECT_EQ(f->figures.at("restored_premises"), 38);
  EXPECT_EQ(f->figures.at("restored_after_close"), 0);
}

TEST_F(OutageTest, ACommsIncidentIsNotAffectedByATally) {
  OutageTracker t = Make();
  const std::string id = CutAndCloseAt95(t, book_, eastern_);
  // Two hours after the close, 500 restorations across the central region (Eastern included)
  // with no AD1: a comms incident, not restorations of the cut.
  const std::vector<int> central = {10, 11, 13, 14, 21};
  const int64_t flood = kT0 + 2 * kMsPerHour;
  for (int i = 0; i < 500; ++i) {
    const AreaId area = ref_.areas->ByDistributorId(central[static_cast<size_t>(i) % 5]);
    Signal(t, Kind::kRestored, 1000 + i, area, flood + i * 360);
  }
  t.Evaluate({flood + 3 * kMin}, book_);
  const auto comms = OfKind(book_, FindingKind::kCommsIncident);
  ASSERT_EQ(comms.size(), 1u);
  EXPECT_EQ(comms[0].figures.at("unmatched_restorations"), 500);
  EXPECT_EQ(comms[0].tally, Tally::kNone);
  const Finding* f = Closed(book_, id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->figures.at("restored_premises"), 38);
  EXPECT_EQ(f->figures.at("affected_premises"), 40);
  EXPECT_EQ(f->figures.at("restored_after_close"), 0);
  // The incident closes as before: its findings never count late data.
  t.Evaluate({flood + 20 * kMin}, book_);
  ASSERT_EQ(OfKind(book_, FindingKind::kCommsIncident).size(), 1u);
  const Finding* incident = Closed(book_, comms[0].id);
  ASSERT_NE(incident, nullptr);
  EXPECT_TRUE(incident->figures_final());
}

TEST_F(OutageTest, ATallyGoesOnAcrossSaveAndLoad) {
  // A never stops; B is restored from A's state (tracker and findings) in the middle of the
  // tally; both see the same signals afterwards.
  OutageTracker a = Make();
  const std::string id = CutAndCloseAt95(a, book_, eastern_);
  Signal(a, Kind::kRestored, 38, eastern_, kT0 + kMsPerHour);
  a.Evaluate({kT0 + 2 * kMsPerHour}, book_);

  BinaryWriter w = BinaryWriter::ToMemory();
  a.SaveState(w);
  book_.Save(w);
  ASSERT_TRUE(w.ok());
  const std::string state = w.TakeBytes();
  OutageTracker b = Make();
  FindingBook book_b;
  {
    BinaryReader r = BinaryReader::FromMemory(state);
    ASSERT_TRUE(b.LoadState(r).ok());
    ASSERT_TRUE(book_b.Load(r, ref_.areas->size()).ok());
    ASSERT_TRUE(r.Finish().ok());
  }
  EXPECT_EQ(b.counting_outages(), 1u);
  ASSERT_NE(Closed(book_b, id), nullptr);
  EXPECT_EQ(Closed(book_b, id)->tally, Tally::kCounting);
  EXPECT_EQ(Closed(book_b, id)->tally_until, Closed(book_, id)->tally_until);

  for (OutageTracker* t : {&a, &b}) {
    Signal(*t, Kind::kRestored, 39, eastern_, kT0 + 20 * kMsPerHour);
  }
  a.Evaluate({kT0 + 21 * kMsPerHour}, book_);
  b.Evaluate({kT0 + 21 * kMsPerHour}, book_b);
  EXPECT_EQ(Closed(book_b, id)->figures.at("restored_after_close"), 2);
  a.Evaluate({kT0 + 25 * kMsPerHour}, book_);
  b.Evaluate({kT0 + 25 * kMsPerHour}, book_b);
  const Finding* fa = Closed(book_, id);
  const Finding* fb = Closed(book_b, id);
  ASSERT_NE(fa, nullptr);
  ASSERT_NE(fb, nullptr);
  EXPECT_EQ(fb->tally, Tally::kFinal);
  EXPECT_EQ(fb->figures.at("restored_premises"), 40);
  EXPECT_EQ(fb->figures, fa->figures);
  EXPECT_EQ(fb->explanation, fa->explanation);
}

TEST_F(OutageTest, TruncatedOrDamagedTallyStateIsDataLossNeverACrash) {
  OutageTracker a = Make();
  CutAndCloseAt95(a, book_, eastern_);
  // A second outage while the first counts: both outage records and the earlier list are saved.
  Starts(a, 100, 30, eastern_, kT0 + 2 * kMsPerHour, kSec);
  a.Evaluate({kT0 + 2 * kMsPerHour + kMin}, book_);
  BinaryWriter w = BinaryWriter::ToMemory();
  a.SaveState(w);
  const std::string state = w.TakeBytes();
  for (size_t n = 0; n < state.size(); n += std::max<size_t>(1, state.size() / 500)) {
    OutageTracker b = Make();
    BinaryReader r = BinaryReader::FromMemory(std::string_view(state).substr(0, n));
    const absl::Status s = b.LoadState(r);
    EXPECT_FALSE(s.ok()) << n;
    EXPECT_EQ(b.counting_outages(), 0u) << n;  // unchanged
  }
  // Another layout (the fingerprint's first field, after its 8-byte length): FailedPrecondition,
  // the tracker unchanged.
  std::string other = state;
  ASSERT_EQ(other.substr(8, 4), std::string("\x02\x00\x00\x00", 4));
  other[8] = '\x01';
  OutageTracker c = Make();
  BinaryReader r = BinaryReader::FromMemory(other);
  EXPECT_TRUE(absl::IsFailedPrecondition(c.LoadState(r))) << "layout 1 is refused";
  EXPECT_EQ(c.counting_outages(), 0u);
}

TEST(FindingBookTallyTest, ACountingFindingStaysInTheHistoryUntilFinal) {
  FindingBook book(3);
  Finding counting;
  counting.id = "power_outage:area=Eastern:1";
  counting.kind = FindingKind::kPowerOutage;
  counting.tally = Tally::kCounting;
  counting.tally_until = EventTime{100};
  book.Upsert(counting);
  book.Close(counting.id, EventTime{10});
  for (int i = 0; i < 5; ++i) {
    Finding f;
    f.id = "storm:" + std::to_string(i);
    book.Upsert(f);
    book.Close(f.id, EventTime{20 + i});
  }
  ASSERT_EQ(book.closed().size(), 3u);
  EXPECT_EQ(book.closed().front().id, counting.id);  // the final ones went first
  counting.tally = Tally::kFinal;
  counting.figures["restored_premises"] = 7;
  ASSERT_TRUE(book.UpdateClosed(counting));
  EXPECT_EQ(book.closed().front().figures.at("restored_premises"), 7);
  EXPECT_EQ(book.closed().front().end->ms, 10);  // the end stays
  Finding next;
  next.id = "storm:9";
  book.Upsert(next);
  book.Close(next.id, EventTime{30});
  EXPECT_EQ(book.closed().front().id, "storm:3");  // final now: it can go
  EXPECT_FALSE(book.UpdateClosed(counting));
}

TEST(FindingBookTallyTest, EndTalliesMakesCountingFindingsFinal) {
  FindingBook book;
  Finding f;
  f.id = "power_outage:area=Eastern:1";
  f.kind = FindingKind::kPowerOutage;
  f.explanation = "Power outage";
  f.tally = Tally::kCounting;
  f.tally_until = EventTime{100};
  book.Upsert(f);
  book.Close(f.id, EventTime{10});
  book.EndTallies(FindingKind::kStorm, "(no)");
  EXPECT_EQ(book.closed().back().tally, Tally::kCounting);
  book.EndTallies(FindingKind::kPowerOutage, "(tally ended)");
  EXPECT_EQ(book.closed().back().tally, Tally::kFinal);
  EXPECT_TRUE(book.closed().back().figures_final());
  EXPECT_EQ(book.closed().back().explanation, "Power outage (tally ended)");
}

TEST(FindingBookTallyTest, SaveLoadKeepsTheTallyAndReadsTheLayoutBeforeIt) {
  FindingBook book;
  Finding f;
  f.id = "power_outage:area=Eastern:1";
  f.kind = FindingKind::kPowerOutage;
  f.severity = Severity::kCritical;
  f.start = EventTime{5};
  f.explanation = "x";
  f.figures["restored_premises"] = 38;
  f.tally = Tally::kCounting;
  f.tally_until = EventTime{86'400'010};
  book.Upsert(f);
  book.Close(f.id, EventTime{10});
  BinaryWriter w = BinaryWriter::ToMemory();
  book.Save(w);
  const std::string bytes = w.TakeBytes();
  FindingBook back;
  BinaryReader r = BinaryReader::FromMemory(bytes);
  ASSERT_TRUE(back.Load(r, 16).ok());
  ASSERT_EQ(back.closed().size(), 1u);
  EXPECT_EQ(back.closed().front().tally, Tally::kCounting);
  EXPECT_EQ(back.closed().front().tally_until, f.tally_until);

  // Layout 1 (no tag, no tally): the open count first, then each finding without its tally.
  BinaryWriter old = BinaryWriter::ToMemory();
  old.Pod<uint64_t>(0);  // open
  old.Pod<uint64_t>(1);  // closed
  old.String(f.id);
  old.Pod<uint8_t>(static_cast<uint8_t>(FindingKind::kPowerOutage));
  old.Pod<uint8_t>(static_cast<uint8_t>(Severity::kCritical));
  old.Pod<uint8_t>(kUnknownArea.value);
  old.String("");
  old.String("area=Eastern");
  old.Pod<int64_t>(5);
  old.Pod<uint8_t>(1);
  old.Pod<int64_t>(10);
  old.String("x");
  old.Pod<uint64_t>(1);
  old.String("restored_premises");
  old.Pod<double>(38);
  const std::string old_bytes = old.TakeBytes();
  FindingBook from_old;
  BinaryReader r1 = BinaryReader::FromMemory(old_bytes);
  ASSERT_TRUE(from_old.Load(r1, 16).ok());
  ASSERT_TRUE(r1.Finish().ok());
  ASSERT_EQ(from_old.closed().size(), 1u);
  EXPECT_EQ(from_old.closed().front().tally, Tally::kNone);
  EXPECT_TRUE(from_old.closed().front().figures_final());
  EXPECT_EQ(from_old.closed().front().figures.at("restored_premises"), 38);

  // Damaged: a counting tally without its end time.
  std::string bad = bytes;
  const size_t tally_at = bad.size() - 1 - 8 - 1;  // enum, has-time bool, time
  ASSERT_EQ(bad[tally_at], '\x01');
  bad[tally_at + 1] = '\x00';
  FindingBook refused;
  BinaryReader r2 = BinaryReader::FromMemory(bad);
  EXPECT_TRUE(absl::IsDataLoss(refused.Load(r2, 16)));
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
  c = OutageConfig{};
  c.final_tally_after_ms = -1;
  EXPECT_FALSE(c.Validate().ok());
  c.final_tally_after_ms = 0;
  EXPECT_TRUE(c.Validate().ok());
}

}  // namespace
}  // namespace smetsmon::rules
