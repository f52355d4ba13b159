// Why an input event was rejected. Bounded set: each is a Prometheus label value and a key of the
// replay report's `events.rejected` object.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace smetsmon {

enum class RejectReason : uint8_t {
  kNone = 0,      // accepted
  kNotJson,       // not parseable JSON (or trailing content)
  kNotObject,     // valid JSON but not an object
  kTooLarge,      // value over 64 KiB
  kMissingField,  // a required field is absent
  kWrongType,     // a field has the wrong JSON type
  kBadAlertId,    // alert_id empty or over 128 characters
  kBadDeviceId,   // not 8 hex octets joined by '-', or the broadcast EUI-64
  kBadAlertCode,  // neither 4 hex digits nor a 2-4 character DCC code
  kBadTime,       // event_time/dcc_time not RFC 3339 UTC nor epoch milliseconds
  kFutureTime,    // event_time more than 1 h ahead of the monitor's clock
  kBadMpxn,       // mpxn not digits, or a 13-digit MPAN whose check digit fails
  kBadValue,      // an optional field out of its range (smets, gsp_group, lengths, counts)
  kAmbiguous,     // device_id or event_time given twice (or nested) with different values
};
inline constexpr int kRejectReasonCount = 14;

inline constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "none",        "not_json",     "not_object",    "too_large",      "missing_field",
    "wrong_type",  "bad_alert_id", "bad_device_id", "bad_alert_code", "bad_time",
    "future_time", "bad_mpxn",     "bad_value",     "ambiguous_field"};

constexpr std::string_view RejectReasonName(RejectReason r) {
  return kRejectReasonNames[static_cast<int>(r)];
}

}  // namespace smetsmon
