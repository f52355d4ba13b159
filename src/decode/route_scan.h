// The router's cheap look at an untrusted message: its device id and event time, found by scanning
// for their keys rather than parsing the JSON, so that the one thread that reads a source can route
// messages to the workers that decode them fully.
//
// The scan is a hint, never a verdict: a message it cannot read (escaped or oddly spaced values,
// a missing key, anything unusual) is decoded fully by the router instead, and the worker that
// decodes a routed message checks that the full decode agrees with the scan (a message where
// they differ, such as one with the key twice, is rejected as `ambiguous_field`).
//
// Thread-safety: pure functions; the date cache is the caller's (one per thread).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/fields.h"
#include "smetsmon/types.h"

namespace smetsmon::decode {

struct RouteKey {
  DeviceId device;
  int64_t event_ms = 0;
};

// True and fills `out` when both "device_id" and "event_time" are found as keys with values in the
// contract's formats; false otherwise.
bool ScanRouteKey(std::string_view message, Rfc3339DateCache& dates, RouteKey* out);

}  // namespace smetsmon::decode
