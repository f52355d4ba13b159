// Test helpers for local-calendar tests: a UTC instant from civil fields, and Europe/London.
#pragma once

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "rules/london_time.h"
#include "smetsmon/types.h"

namespace smetsmon::testing {

inline EventTime Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return EventTime{absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()))};
}

inline rules::LocalCalendar London() {
  auto cal = rules::LocalCalendar::Load("Europe/London");
  EXPECT_TRUE(cal.ok()) << cal.status();
  return *cal;
}

}  // namespace smetsmon::testing
