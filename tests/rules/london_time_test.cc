#include "rules/london_time.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "testing/london.h"

namespace smetsmon::rules {
namespace {

// 2026: clocks go forward on 29 Mar at 01:00Z (01:00 GMT -> 02:00 BST) and back on 25 Oct at
// 01:00Z (02:00 BST -> 01:00 GMT).
using testing::London;
using testing::Utc;

TEST(LocalCalendarTest, LoadsLondonByDefault) {
  auto cal = LocalCalendar::Load();
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_EQ(cal->name(), "Europe/London");
}

TEST(LocalCalendarTest, UnknownZoneIsAnErrorNamingIt) {
  auto cal = LocalCalendar::Load("Europe/Atlantis");
  ASSERT_FALSE(cal.ok());
  EXPECT_NE(cal.status().message().find("Europe/Atlantis"), std::string::npos)
      << cal.status().message();
  EXPECT_NE(cal.status().message().find("tzdata"), std::string::npos);
}

TEST(LocalCalendarTest, EmptyZoneNameIsAnError) {
  auto cal = LocalCalendar::Load("");
  ASSERT_FALSE(cal.ok());
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LocalCalendarTest, SixAmIsSixZuluInWinterAndFiveZuluInSummer) {
  const LocalCalendar cal = London();
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 1, 15, 0, 0), 6, 0), Utc(2026, 1, 15, 6, 0));
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 7, 15, 0, 0), 6, 0), Utc(2026, 7, 15, 5, 0));
}

TEST(LocalCalendarTest, NextDailyAtIsStrictlyAfter) {
  const LocalCalendar cal = London();
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 1, 15, 6, 0), 6, 0), Utc(2026, 1, 16, 6, 0));
  EXPECT_EQ(cal.NextDailyAt(EventTime{Utc(2026, 1, 15, 6, 0).ms - 1}, 6, 0),
            Utc(2026, 1, 15, 6, 0));
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 1, 15, 6, 0, 1), 6, 0), Utc(2026, 1, 16, 6, 0));
}

TEST(LocalCalendarTest, SixAmAcrossTheMarchChange) {
  const LocalCalendar cal = London();
  // From the 28 Mar decision (GMT) the next is 29 Mar 06:00 BST = 05:00Z: 23 h later.
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 3, 28, 6, 0), 6, 0), Utc(2026, 3, 29, 5, 0));
  // From just after the change itself.
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 3, 29, 1, 0), 6, 0), Utc(2026, 3, 29, 5, 0));
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 3, 29, 5, 0), 6, 0), Utc(2026, 3, 30, 5, 0));
}

TEST(LocalCalendarTest, SixAmAcrossTheOctoberChange) {
  const LocalCalendar cal = London();
  // From the 24 Oct decision (BST) the next is 25 Oct 06:00 GMT = 06:00Z: 25 h later.
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 10, 24, 5, 0), 6, 0), Utc(2026, 10, 25, 6, 0));
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 10, 25, 5, 30), 6, 0), Utc(2026, 10, 25, 6, 0));
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 10, 25, 6, 0), 6, 0), Utc(2026, 10, 26, 6, 0));
}

TEST(LocalCalendarTest, SkippedWallTimeGivesTheInstantTheClocksJump) {
  const LocalCalendar cal = London();
  // 01:30 on 29 Mar 2026 does not exist: at 01:00Z the clocks jump from 01:00 GMT to 02:00 BST.
  const EventTime t = cal.NextDailyAt(Utc(2026, 3, 28, 12, 0), 1, 30);
  EXPECT_EQ(t, Utc(2026, 3, 29, 1, 0));
  EXPECT_EQ(cal.FormatLocal(t), "2026-03-29 02:00:00 BST");
  // Next day it exists again, in BST.
  EXPECT_EQ(cal.NextDailyAt(t, 1, 30), Utc(2026, 3, 30, 0, 30));
}

TEST(LocalCalendarTest, RepeatedWallTimeGivesTheFirstOccurrenceOnly) {
  const LocalCalendar cal = London();
  // 01:30 on 25 Oct 2026 happens at 00:30Z (BST) and again at 01:30Z (GMT).
  const EventTime first = cal.NextDailyAt(Utc(2026, 10, 24, 12, 0), 1, 30);
  EXPECT_EQ(first, Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(cal.FormatLocal(first), "2026-10-25 01:30:00 BST");
  // The second occurrence is not a new daily instant: the next one is on 26 Oct.
  EXPECT_EQ(cal.NextDailyAt(first, 1, 30), Utc(2026, 10, 26, 1, 30));
  EXPECT_EQ(cal.NextDailyAt(Utc(2026, 10, 25, 1, 0), 1, 30), Utc(2026, 10, 26, 1, 30));
}

TEST(LocalCalendarTest, LocalDateFollowsLocalMidnight) {
  const LocalCalendar cal = London();
  EXPECT_EQ(cal.LocalDate(Utc(2026, 6, 14, 22, 59)), "2026-06-14");
  EXPECT_EQ(cal.LocalDate(Utc(2026, 6, 14, 23, 0)), "2026-06-15");    // 00:00 BST
  EXPECT_EQ(cal.LocalDate(Utc(2026, 12, 31, 23, 30)), "2026-12-31");  // GMT = UTC
}

TEST(LocalCalendarTest, FormatLocalUsesTheZoneAbbreviation) {
  const LocalCalendar cal = London();
  EXPECT_EQ(cal.FormatLocal(Utc(2026, 7, 1, 12, 0, 5)), "2026-07-01 13:00:05 BST");
  EXPECT_EQ(cal.FormatLocal(Utc(2026, 1, 1, 12, 0, 5)), "2026-01-01 12:00:05 GMT");
  EXPECT_EQ(cal.LocalTimeOfDay(Utc(2026, 7, 1, 5, 0)), "06:00:00 BST");
}

TEST(LocalCalendarTest, StartOfLocalMonthInSummerIsBstMidnight) {
  const LocalCalendar cal = London();
  EXPECT_EQ(cal.StartOfLocalMonth(Utc(2026, 6, 15, 12, 0)), Utc(2026, 5, 31, 23, 0));
  // 00:30 BST on 1 Apr is still March in UTC, but April locally.
  EXPECT_EQ(cal.StartOfLocalMonth(Utc(2026, 3, 31, 23, 30)), Utc(2026, 3, 31, 23, 0));
  // 23:59 BST on 31 Mar: March began in GMT.
  EXPECT_EQ(cal.StartOfLocalMonth(Utc(2026, 3, 31, 22, 59)), Utc(2026, 3, 1, 0, 0));
  EXPECT_EQ(cal.StartOfLocalMonth(Utc(2026, 11, 20, 8, 0)), Utc(2026, 11, 1, 0, 0));
}

TEST(LocalCalendarTest, StartOfLocalDayOnChangeDays) {
  const LocalCalendar cal = London();
  EXPECT_EQ(cal.StartOfLocalDay(Utc(2026, 3, 29, 12, 0)), Utc(2026, 3, 29, 0, 0));     // GMT
  EXPECT_EQ(cal.StartOfLocalDay(Utc(2026, 10, 25, 12, 0)), Utc(2026, 10, 24, 23, 0));  // BST
  EXPECT_EQ(cal.StartOfLocalDay(Utc(2026, 10, 24, 23, 0)), Utc(2026, 10, 24, 23, 0));
}

TEST(LocalCalendarTest, OtherZonesLoad) {
  auto utc = LocalCalendar::Load("UTC");
  ASSERT_TRUE(utc.ok()) << utc.status();
  EXPECT_EQ(utc->NextDailyAt(Utc(2026, 7, 15, 0, 0), 6, 0), Utc(2026, 7, 15, 6, 0));
}

}  // namespace
}  // namespace smetsmon::rules
