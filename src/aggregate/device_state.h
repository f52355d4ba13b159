// Per-device state: 48 bytes, kept for every device seen (up to ~30 M), so that a device's recent
// behaviour is available to rules and the HTTP API without ever becoming a metric label.
//
// Holds: alert count over a sliding 24 h at hour granularity (a ring of saturating 8-bit hourly
// counts whose newest hour is the hour of the newest alert), the last two alerts (code, time),
// the last reported voltage, the start of an open outage, and the day first seen; last seen is
// the newest alert's time.
//
// Time domain: event time, passed in; an alert older than the ring still updates the history
// fields it can reach. Thread-safety: none; owned by the worker that owns the device.
#pragma once

#include <array>
#include <cstdint>

#include "smetsmon/types.h"

namespace smetsmon::aggregate {

struct DeviceState {
  std::array<uint8_t, 24> hour_counts;  // index = hour % 24, saturating at 255
  std::array<uint32_t, 2> last_time_s;  // [0] newest; 0 = none
  std::array<uint32_t, 2> last_code;    // AlertCode values
  uint32_t outage_start_s;              // 0 = no open outage
  uint16_t first_seen_day;              // days since 1970-01-01
  uint16_t last_voltage_plus1;          // decivolts + 1, saturating; 0 = none reported

  bool seen() const { return last_time_s[0] != 0; }
  int64_t last_seen_ms() const { return int64_t{last_time_s[0]} * 1000; }
  bool has_voltage() const { return last_voltage_plus1 != 0; }
  int32_t last_voltage_dv() const { return int32_t{last_voltage_plus1} - 1; }

  // Alerts in the 24 hourly buckets ending with the hour that holds `now`.
  uint32_t AlertsIn24h(EventTime now) const;

  // Applies one alert of weight `count`. `outage_start`/`outage_end` tell what the code means
  // (from the catalogue's categories).
  void Apply(EventTime t, AlertCode code, uint32_t count, bool has_voltage, int32_t voltage_dv,
             bool outage_start, bool outage_end);
};
static_assert(sizeof(DeviceState) == 48, "device state budget: 48 B + 8 B key per slot");

}  // namespace smetsmon::aggregate
