#include "rules/format.h"

#include "absl/time/time.h"

namespace smetsmon::rules {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::string GroupDigits(std::string_view digits) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatCount(uint64_t n) { return GroupDigits(std::to_string(n)); }

std::string FormatUtcClock(int64_t t_ms, EventTime now) {
  const bool same_day = FloorDiv(t_ms, kMsPerDay) == FloorDiv(now.ms, kMsPerDay);
  return absl::FormatTime(same_day ? "%H:%M" : "%Y-%m-%d %H:%M", absl::FromUnixMillis(t_ms),
                          absl::UTCTimeZone());
}

}  // namespace smetsmon::rules
