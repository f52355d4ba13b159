#include "aggregate/device_state.h"

#include <algorithm>

namespace smetsmon::aggregate {
namespace {
constexpr int64_t kSecondsPerHour = 3600;
}

uint32_t DeviceState::AlertsIn24h(EventTime now) const {
  if (!seen()) return 0;
  const int64_t newest_h = int64_t{last_time_s[0]} / kSecondsPerHour;
  const int64_t now_h = now.ms / kMsPerHour;
  uint32_t sum = 0;
  // Valid ring hours are (newest_h - 24, newest_h]; the query covers (now_h - 24, now_h].
  const int64_t from = std::max(newest_h, now_h) - 23;
  const int64_t lo = std::max(from, newest_h - 23);
  const int64_t hi = std::min(now_h, newest_h);
  for (int64_t h = lo; h <= hi; ++h) sum += hour_counts[static_cast<size_t>(h % 24)];
  return sum;
}

void DeviceState::Apply(EventTime t, AlertCode code, uint32_t count, bool has_voltage,
                        int32_t voltage_dv, bool outage_start, bool outage_end) {
  const auto t_s = static_cast<uint32_t>(std::max<int64_t>(1, t.ms / 1000));
  const int64_t h = t.ms / kMsPerHour;
  const auto day = static_cast<uint16_t>(t.ms / kMsPerDay);
  if (!seen()) {
    *this = DeviceState{};
    first_seen_day = day;
    last_time_s[0] = t_s;
    last_code[0] = code.value;
  } else {
    first_seen_day = std::min(first_seen_day, day);
    const int64_t newest_h = int64_t{last_time_s[0]} / kSecondsPerHour;
    if (h > newest_h) {
      // Clear the hours the ring moves over (at most all 24).
      for (int64_t k = std::max(newest_h + 1, h - 23); k <= h; ++k) {
        hour_counts[static_cast<size_t>(k % 24)] = 0;
      }
    } else if (h <= newest_h - 24) {
      count = 0;  // older than the ring: history only
    }
    if (t_s >= last_time_s[0]) {
      last_time_s[1] = last_time_s[0];
      last_code[1] = last_code[0];
      last_time_s[0] = t_s;
      last_code[0] = code.value;
    } else if (t_s >= last_time_s[1]) {
      last_time_s[1] = t_s;
      last_code[1] = code.value;
    }
  }
  uint8_t& c = hour_counts[static_cast<size_t>(h % 24)];
  c = static_cast<uint8_t>(std::min<uint32_t>(255, uint32_t{c} + count));
  const bool is_newest = last_time_s[0] == t_s && last_code[0] == code.value;
  if (has_voltage && is_newest) {
    last_voltage_plus1 = static_cast<uint16_t>(std::min<int32_t>(voltage_dv, 65534) + 1);
  }
  if (outage_start && is_newest) {
    outage_start_s = t_s;
  } else if (outage_end && outage_start_s != 0 && t_s >= outage_start_s) {
    outage_start_s = 0;
  }
}

}  // namespace smetsmon::aggregate
