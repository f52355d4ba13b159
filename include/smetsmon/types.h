// Public vocabulary of smetsmon: strong ids, time points and the compact decoded alert record.
//
// Everything here is a plain value type: trivially copyable, no allocation, safe to copy across
// threads. Two time domains exist and have different types so they cannot be mixed by accident:
// `EventTime` (when a device raised an alert, from the message) and `ProcessingTime` (the
// monitor's own clock, used only to advance an idle stream and to reject future events).
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace smetsmon {

// A strong integer id: `Tag` makes DeviceId and AreaId distinct types.
template <typename Tag, typename Rep>
struct StrongId {
  Rep value{};
  constexpr auto operator<=>(const StrongId&) const = default;
};

// EUI-64 of the device that raised the alert, packed big-endian into 64 bits
// (`00-DB-12-34-56-78-90-A0` is 0x00DB1234567890A0). FF-FF-FF-FF-FF-FF-FF-FF is the broadcast
// address, never a device, and is rejected by the decoder; tables use it internally.
using DeviceId = StrongId<struct DeviceIdTag, uint64_t>;
inline constexpr uint64_t kBroadcastEui64 = std::numeric_limits<uint64_t>::max();

// Index of a DNO area in the area table (config/areas.yaml); `kUnknownArea` when no source names
// one. Areas are few (14 in GB), so one byte.
using AreaId = StrongId<struct AreaIdTag, uint8_t>;
inline constexpr AreaId kUnknownArea{0xFF};

// Index of a DCC communications region (North, Central, South); `kUnknownRegion` otherwise.
using RegionId = StrongId<struct RegionIdTag, uint8_t>;
inline constexpr RegionId kUnknownRegion{0xFF};

// An interned DMC or cohort label; 0 means "not given", see catalog/symbols.h.
using DmcId = StrongId<struct DmcIdTag, uint16_t>;
using CohortId = StrongId<struct CohortIdTag, uint16_t>;

// An alert code. Device alert codes (4 hex digits) are their 16-bit value; DCC alert codes
// (2-4 letters and digits, first a letter) are packed base-37 above 0xFFFF. See
// decode/alert_code.h.
struct AlertCode {
  uint32_t value = 0;
  constexpr auto operator<=>(const AlertCode&) const = default;
  constexpr bool is_dcc() const { return value > 0xFFFF; }
};

// Milliseconds since the Unix epoch in the event-time domain.
struct EventTime {
  int64_t ms = 0;
  constexpr auto operator<=>(const EventTime&) const = default;
  static constexpr EventTime Min() { return {std::numeric_limits<int64_t>::min() / 2}; }
};

// Milliseconds since the Unix epoch on the monitor's clock (system time).
struct ProcessingTime {
  int64_t ms = 0;
  constexpr auto operator<=>(const ProcessingTime&) const = default;
};

inline constexpr int64_t kMsPerSecond = 1000;
inline constexpr int64_t kMsPerMinute = 60 * kMsPerSecond;
inline constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
inline constexpr int64_t kMsPerDay = 24 * kMsPerHour;

// Meter generation.
enum class Generation : uint8_t { kUnknown = 0, kSmets1 = 1, kSmets2 = 2 };

// The decoded form of one valid alert event: 64 bytes, no pointers, no strings.
// Fields that the message may omit are marked by the `kHas*` bits in `present` so that inventory
// enrichment knows what to fill in.
struct AlertEvent {
  DeviceId device;
  uint64_t alert_fingerprint = 0;  // stable 64-bit hash of alert_id (dedup key)
  EventTime event_time;
  EventTime dcc_time;  // valid only when present & kHasDccTime
  uint64_t mpxn = 0;   // 13-digit MPAN core or MPRN as a number; 0 when absent
  AlertCode code;
  int32_t voltage_dv = 0;        // decivolts; valid only when present & kHasVoltage
  uint32_t throttled_count = 1;  // this message stands for this many alerts
  DmcId dmc{0};
  CohortId cohort{0};
  AreaId area = kUnknownArea;
  Generation generation = Generation::kUnknown;
  uint8_t present = 0;
  // Day the device was installed (days since 1970-01-01, from the inventory's installed_on; 0 =
  // unknown): the migration-load rule classes its alerts as from a recent or an established
  // installation at their event time. Never from the message.
  uint16_t installed_day = 0;

  static constexpr uint8_t kHasDccTime = 1 << 0;
  static constexpr uint8_t kHasSmets = 1 << 1;
  static constexpr uint8_t kHasVoltage = 1 << 2;
  static constexpr uint8_t kHasMpxn = 1 << 3;
  static constexpr uint8_t kHasArea = 1 << 4;  // area resolved from gsp_group or MPAN
  static constexpr uint8_t kHasDmc = 1 << 5;
  static constexpr uint8_t kHasCohort = 1 << 6;
};
static_assert(sizeof(AlertEvent) == 64, "AlertEvent should stay one cache line");

}  // namespace smetsmon
