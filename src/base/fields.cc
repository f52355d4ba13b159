#include "base/fields.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace smetsmon {
namespace {

constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// Base-37 digit for DCC codes: 0 = padding, 1-10 = '0'-'9', 11-36 = 'A'-'Z'.
constexpr uint32_t Base37(char c) {
  c = Upper(c);
  return IsDigit(c) ? static_cast<uint32_t>(c - '0' + 1) : static_cast<uint32_t>(c - 'A' + 11);
}
constexpr char FromBase37(uint32_t d) {
  return d <= 10 ? static_cast<char>('0' + d - 1) : static_cast<char>('A' + d - 11);
}

int ParseFixedDigits(std::string_view s, size_t pos, size_t n, bool& ok) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!IsDigit(c)) {
      ok = false;
      return 0;
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

constexpr bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
constexpr int DaysInMonth(int y, int m) {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

// Hex digit values, 0xFF for anything else: one table read per character on the hot path.
constexpr std::array<uint8_t, 256> kHexTable = [] {
  std::array<uint8_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    const int v = HexValue(static_cast<char>(i));
    t[static_cast<size_t>(i)] = v < 0 ? 0xFF : static_cast<uint8_t>(v);
  }
  return t;
}();

std::optional<DeviceId> ParseDeviceId(std::string_view s) {
  if (s.size() != 23) return std::nullopt;
  uint64_t v = 0;
  uint32_t bad = 0;
  for (size_t octet = 0; octet < 8; ++octet) {
    const size_t p = octet * 3;
    const uint8_t hi = kHexTable[static_cast<uint8_t>(s[p])];
    const uint8_t lo = kHexTable[static_cast<uint8_t>(s[p + 1])];
    bad |= (hi | lo) & 0xF0;
    if (octet < 7) bad |= static_cast<uint32_t>(s[p + 2] != '-');
    v = (v << 8) | static_cast<uint64_t>(hi << 4 | lo);
  }
  if (bad != 0) return std::nullopt;
  if (v == kBroadcastEui64) return std::nullopt;
  return DeviceId{v};
}

std::string FormatDeviceId(DeviceId id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(23, '-');
  for (int octet = 0; octet < 8; ++octet) {
    const auto b = static_cast<unsigned>((id.value >> (56 - 8 * octet)) & 0xFF);
    out[static_cast<size_t>(octet) * 3] = kHex[b >> 4];
    out[static_cast<size_t>(octet) * 3 + 1] = kHex[b & 0xF];
  }
  return out;
}

std::optional<AlertCode> ParseAlertCode(std::string_view s) {
  bool had_prefix = false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    had_prefix = true;
  }
  if (s.size() == 4) {
    uint32_t v = 0;
    bool all_hex = true;
    for (char c : s) {
      const int h = HexValue(c);
      if (h < 0) {
        all_hex = false;
        break;
      }
      v = v << 4 | static_cast<uint32_t>(h);
    }
    if (all_hex) return AlertCode{v};
  }
  if (had_prefix || s.size() < 2 || s.size() > 4 || !IsAlpha(s[0])) return std::nullopt;
  uint32_t packed = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint32_t d = 0;
    if (i < s.size()) {
      if (!IsAlpha(s[i]) && !IsDigit(s[i])) return std::nullopt;
      d = Base37(s[i]);
    }
    packed = packed * 37 + d;
  }
  return AlertCode{0x10000 + packed};
}

std::string FormatAlertCode(AlertCode code) {
  if (!code.is_dcc()) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out(4, '0');
    for (int i = 0; i < 4; ++i)
      out[static_cast<size_t>(3 - i)] = kHex[(code.value >> (4 * i)) & 0xF];
    return out;
  }
  uint32_t packed = code.value - 0x10000;
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(packed % 37);
    packed /= 37;
  }
  std::string out;
  for (char d : buf) {
    if (d != 0) out.push_back(FromBase37(static_cast<uint32_t>(d)));
  }
  return out;
}

std::optional<int64_t> ParseRfc3339Utc(std::string_view s, Rfc3339DateCache& cache) {
  // YYYY-MM-DDTHH:MM:SS = 19 characters minimum, then [.fraction] then Z | +00:00.
  if (s.size() < 20) return std::nullopt;
  const char* p = s.data();
  uint64_t head;
  uint16_t tail;
  std::memcpy(&head, p, 8);
  std::memcpy(&tail, p + 8, 2);
  int64_t days;
  if (head == cache.head && tail == cache.tail && cache.days >= 0) {
    days = cache.days;  // the same YYYY-MM-DD validated before
  } else {
    static constexpr uint8_t kDatePos[] = {0, 1, 2, 3, 5, 6, 8, 9};
    unsigned bad = 0;
    uint8_t d[10];
    for (uint8_t pos : kDatePos) {
      d[pos] = static_cast<uint8_t>(p[pos] - '0');
      bad |= d[pos] > 9;
    }
    if (bad || p[4] != '-' || p[7] != '-') return std::nullopt;
    const int year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3];
    const int month = d[5] * 10 + d[6];
    const int day = d[8] * 10 + d[9];
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
      return std::nullopt;
    }
    days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    cache = {head, tail, days};
  }
  static constexpr uint8_t kTimePos[] = {11, 12, 14, 15, 17, 18};
  unsigned bad = 0;
  uint8_t d[19];
  for (uint8_t pos : kTimePos) {
    d[pos] = static_cast<uint8_t>(p[pos] - '0');
    bad |= d[pos] > 9;
  }
  if (bad || (p[10] != 'T' && p[10] != 't') || p[13] != ':' || p[16] != ':') return std::nullopt;
  const int hour = d[11] * 10 + d[12];
  const int minute = d[14] * 10 + d[15];
  const int second = d[17] * 10 + d[18];
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  const size_t rest = s.size() - pos;
  const bool utc = (rest == 1 && (s[pos] == 'Z' || s[pos] == 'z')) ||
                   (rest == 6 && std::memcmp(p + pos, "+00:00", 6) == 0);
  if (!utc) return std::nullopt;
  const int64_t ms = ((days * 24 + hour) * 60 + minute) * 60 * 1000 + second * 1000 + millis;
  if (!IsValidEpochMs(ms)) return std::nullopt;
  return ms;
}

std::optional<int64_t> ParseRfc3339Utc(std::string_view s) {
  Rfc3339DateCache cache;
  return ParseRfc3339Utc(s, cache);
}

std::optional<int32_t> ParseIsoDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  bool ok = true;
  const int year = ParseFixedDigits(s, 0, 4, ok);
  const int month = ParseFixedDigits(s, 5, 2, ok);
  const int day = ParseFixedDigits(s, 8, 2, ok);
  if (!ok || year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return std::nullopt;
  }
  return static_cast<int32_t>(
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)));
}

std::string FormatRfc3339Utc(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  if (millis == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  }
  return buf;
}

namespace {
// The MPAN check digit: the first 12 digits weighted by these primes, summed, mod 11, mod 10.
constexpr std::array<int, 12> kMpanPrimes = {3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43};
constexpr int MpanCheckDigit(int weighted_sum) { return (weighted_sum % 11) % 10; }
}  // namespace

bool MpanCheckDigitOk(std::string_view d) {
  if (d.size() != 13) return false;
  int sum = 0;
  for (size_t i = 0; i < 12; ++i) sum += (d[i] - '0') * kMpanPrimes[i];
  return MpanCheckDigit(sum) == d[12] - '0';
}

std::optional<uint64_t> ParseMpxn(std::string_view s) {
  if (s.size() < 6 || s.size() > 13) return std::nullopt;
  // One pass without early exits: the value, the digit check and (for a 13-digit MPAN) the
  // check-digit sum are independent chains the CPU runs side by side.
  uint64_t v = 0;
  unsigned bad = 0;
  int sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned d = static_cast<unsigned char>(s[i]) - unsigned{'0'};
    bad |= d > 9;
    v = v * 10 + d;
    if (i < 12) sum += static_cast<int>(d) * kMpanPrimes[i];
  }
  if (bad != 0) return std::nullopt;
  if (s.size() == 13 && MpanCheckDigit(sum) != s[12] - '0') return std::nullopt;
  // Keep the MPAN/MPRN distinction in the number: MPANs are >= 10^12 only if they do not start
  // with 0; distributor ids start at 10, so every valid MPAN core is >= 10^12.
  return v;
}

int MpanDistributorId(uint64_t mpxn) {
  constexpr uint64_t kTen12 = 1'000'000'000'000ULL;
  if (mpxn < kTen12) return 0;
  return static_cast<int>(mpxn / (kTen12 / 10));  // the first two of 13 digits
}

std::optional<char> ParseGspGroup(std::string_view s) {
  if (s.size() != 2 || s[0] != '_') return std::nullopt;
  const char c = Upper(s[1]);
  if (c < 'A' || c > 'P') return std::nullopt;
  return c;
}

uint64_t StableHash64(std::string_view s) {
  // A multiply-xorshift hash over 8-byte words (wyhash-style mixing); stable by construction.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t h = 0x6A09E667F3BCC909ULL ^ (s.size() * kMul);
  size_t i = 0;
  auto mix = [](uint64_t a, uint64_t b) {
    const __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  };
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix(h ^ w, kMul ^ 0xA0761D6478BD642FULL);
  }
  uint64_t tail = 0;
  for (size_t k = 0; i < s.size(); ++i, ++k)
    tail |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * k);
  h = mix(h ^ tail, 0xE7037ED1A0B428DBULL);
  return mix(h, kMul);
}

}  // namespace smetsmon
