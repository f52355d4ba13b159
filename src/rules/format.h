// Number and time formatting for the rules' explanations and reports (words for people, not the
// per-event path). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "smetsmon/types.h"

namespace smetsmon::rules {

// "1234567" -> "1,234,567"; `digits` is a run of decimal digits.
std::string GroupDigits(std::string_view digits);
// 1240 -> "1,240".
std::string FormatCount(uint64_t n);
// "12:05", or "2024-03-01 12:05" when `t_ms` is not on `now`'s UTC day.
std::string FormatUtcClock(int64_t t_ms, EventTime now);

}  // namespace smetsmon::rules
