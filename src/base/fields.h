// Parsers for the contract's field formats (../shared/contract/alert-event.md). Pure functions over
// string views: no allocation, no exceptions, thread-safe. Used by the JSON decoder, the inventory
// loader and the config loaders so that every source accepts exactly the same formats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smetsmon/types.h"

namespace smetsmon {

// "00-DB-12-34-56-78-90-A0" (case-insensitive) -> 0x00DB1234567890A0. Rejects any other shape and
// the broadcast address FF-FF-FF-FF-FF-FF-FF-FF.
std::optional<DeviceId> ParseDeviceId(std::string_view s);
std::string FormatDeviceId(DeviceId id);

// Device codes: 4 hex digits, case-insensitive, optional "0x"/"0X" prefix.
// DCC codes: 2-4 characters, the first a letter, the rest letters or digits ("AD1", "N24");
// stored upper-case. A 4-character string of hex digits is always a device code.
std::optional<AlertCode> ParseAlertCode(std::string_view s);
std::string FormatAlertCode(AlertCode code);

// RFC 3339 UTC: "2023-06-26T12:20:00Z", optional fraction of 1-9 digits, "Z" or "+00:00".
// Returns milliseconds since the Unix epoch (fraction truncated to ms).
std::optional<int64_t> ParseRfc3339Utc(std::string_view s);

// Remembers the last calendar date ParseRfc3339Utc validated, so a stream of times from the
// same day skips the date's digit checks and day arithmetic. One per thread (not thread-safe).
struct Rfc3339DateCache {
  uint64_t head = 0;  // bytes 0..7 of the last valid date ("YYYY-MM-")
  uint16_t tail = 0;  // bytes 8..9 ("DD")
  int64_t days = -1;  // its days since the epoch; -1 = empty
};
std::optional<int64_t> ParseRfc3339Utc(std::string_view s, Rfc3339DateCache& cache);
std::string FormatRfc3339Utc(int64_t ms);

// "2021-03-04" -> days since 1970-01-01.
std::optional<int32_t> ParseIsoDate(std::string_view s);

// Epoch milliseconds accepted as an integer event time: 0 .. year 2106 (u32 seconds).
constexpr bool IsValidEpochMs(int64_t ms) { return ms >= 0 && ms < (int64_t{1} << 32) * 1000; }

// mpxn: digits only, 6-13 characters. A 13-digit value is an MPAN core and must pass the check
// digit (primes 3,5,7,13,...,43, sum mod 11 mod 10); shorter values are MPRNs.
std::optional<uint64_t> ParseMpxn(std::string_view s);
bool MpanCheckDigitOk(std::string_view thirteen_digits);
// Distributor id (first two digits) of a 13-digit MPAN core, or 0 for an MPRN.
int MpanDistributorId(uint64_t mpxn);

// "_A".."_P" -> 'A'..'P'; anything else -> nullopt.
std::optional<char> ParseGspGroup(std::string_view s);

// Stable 64-bit hash (same on every build and run: it keys snapshots and dedup across restarts).
uint64_t StableHash64(std::string_view s);

}  // namespace smetsmon
