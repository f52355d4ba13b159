#include "rules/london_time.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace smetsmon::rules {
namespace {

absl::Time ToAbsl(EventTime t) { return absl::FromUnixMillis(t.ms); }
EventTime FromAbsl(absl::Time t) { return EventTime{absl::ToUnixMillis(t)}; }

}  // namespace

absl::StatusOr<LocalCalendar> LocalCalendar::Load(const std::string& tz_name) {
  if (tz_name.empty()) {
    return absl::InvalidArgumentError("time zone name is empty (expected e.g. \"Europe/London\")");
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(tz_name, &tz)) {
    return absl::NotFoundError(
        absl::StrCat("cannot load time zone \"", tz_name,
                     "\": unknown zone name, or the zoneinfo database is missing (install the "
                     "tzdata package, or set TZDIR to a zoneinfo directory)"));
  }
  return LocalCalendar(tz_name, tz);
}

EventTime LocalCalendar::NextDailyAt(EventTime after, int hour, int minute) const {
  const absl::Time t_after = ToAbsl(after);
  absl::CivilDay day = absl::ToCivilDay(t_after, tz_);
  // The candidate on the local day of `after`, else the next days. absl::FromCivil already gives
  // the pre-transition (first) instant of a repeated wall time and the transition instant of a
  // skipped one. A zone that skips a whole day (Pacific/Apia, 30 Dec 2011) needs a third day.
  for (int i = 0; i < 4; ++i, ++day) {
    const absl::CivilSecond wall(day.year(), day.month(), day.day(), hour, minute, 0);
    const absl::Time candidate = absl::FromCivil(wall, tz_);
    if (candidate > t_after) return FromAbsl(candidate);
  }
  // Unreachable for real zones; one fixed day later keeps the schedule moving regardless.
  return FromAbsl(t_after + absl::Hours(24));
}

std::string LocalCalendar::LocalDate(EventTime t) const {
  return absl::FormatTime("%Y-%m-%d", ToAbsl(t), tz_);
}

std::string LocalCalendar::FormatLocal(EventTime t) const {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", ToAbsl(t), tz_);
}

std::string LocalCalendar::LocalTimeOfDay(EventTime t) const {
  return absl::FormatTime("%H:%M:%S %Z", ToAbsl(t), tz_);
}

int LocalCalendar::LocalHour(EventTime t) const { return absl::ToCivilHour(ToAbsl(t), tz_).hour(); }

EventTime LocalCalendar::StartOfLocalMonth(EventTime t) const {
  const absl::CivilMonth month = absl::ToCivilMonth(ToAbsl(t), tz_);
  return FromAbsl(absl::FromCivil(absl::CivilSecond(month), tz_));
}

EventTime LocalCalendar::StartOfLocalDay(EventTime t) const {
  const absl::CivilDay day = absl::ToCivilDay(ToAbsl(t), tz_);
  return FromAbsl(absl::FromCivil(absl::CivilSecond(day), tz_));
}

}  // namespace smetsmon::rules
