// The local calendar behind daily decisions: DCC operations decide the day's SMETS1 migrations
// at a wall-clock time in London, which is 06:00Z in winter (GMT) and 05:00Z in summer (BST).
// This class maps event-time instants to local dates and wall times and back, with the two
// daylight-saving edge cases made explicit (see NextDailyAt).
//
// Time domain: whatever instant it is given (event time in the rules); it never reads a clock.
// Thread-safety: immutable after Load; safe to share and call from any thread (absl::TimeZone is
// a thread-safe handle to a shared, immutable zone).
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "smetsmon/types.h"

namespace smetsmon::rules {

class LocalCalendar {
 public:
  // Loads `tz_name` from the system's zoneinfo (Debian: package tzdata, or $TZDIR). An unknown
  // name or missing tzdata is an error naming the zone; it never silently falls back to UTC.
  static absl::StatusOr<LocalCalendar> Load(const std::string& tz_name = "Europe/London");

  // The first instant strictly after `after` whose local wall time is hour:minute (hour 0-23,
  // minute 0-59). If that wall time does not exist that day (spring forward), the instant the
  // clocks jump (01:30 on 29 Mar 2026 -> 01:00Z, when 01:00 GMT becomes 02:00 BST); if it occurs
  // twice (autumn back), the first occurrence only, so a daily schedule fires once per local day.
  EventTime NextDailyAt(EventTime after, int hour, int minute) const;

  std::string LocalDate(EventTime t) const;       // "YYYY-MM-DD" in local time
  std::string FormatLocal(EventTime t) const;     // "YYYY-MM-DD HH:MM:SS BST" (zone abbreviation)
  std::string LocalTimeOfDay(EventTime t) const;  // "HH:MM:SS BST"
  int LocalHour(EventTime t) const;               // 0-23, local wall clock

  // Local midnight on the 1st of t's local month (the first instant of that day if midnight was
  // skipped in some zone).
  EventTime StartOfLocalMonth(EventTime t) const;
  // Local midnight of t's local day (same rule for a skipped midnight).
  EventTime StartOfLocalDay(EventTime t) const;

  const std::string& name() const { return name_; }

 private:
  LocalCalendar(std::string name, absl::TimeZone tz) : name_(std::move(name)), tz_(tz) {}

  std::string name_;
  absl::TimeZone tz_;
};

}  // namespace smetsmon::rules
