#include "decode/route_scan.h"

#include <emmintrin.h>  // SSE2: part of every x86-64

#include <cstring>

namespace smetsmon::decode {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The first occurrence of `key` (at least 2 bytes) in `m` from `from`, or npos. Sixteen positions
// at a time are tested for the key's first two bytes (a quote and the key's first letter, rare
// together in JSON), then candidates are compared whole; the tail is scanned byte by byte. Reads
// stay inside `m` (Kafka payloads have no padding).
size_t FindKey(std::string_view m, size_t from, std::string_view key) {
  const size_t n = m.size();
  if (n < key.size()) return std::string_view::npos;
  const size_t last = n - key.size();  // the last position a match can start at
  const __m128i first = _mm_set1_epi8(key[0]);
  const __m128i second = _mm_set1_epi8(key[1]);
  size_t i = from;
  // Loads at i and i + 1 read bytes up to i + 16, inside m while i + 17 <= n.
  for (; i + 17 <= n && i <= last; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m.data() + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m.data() + i + 1));
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, second))));
    while (mask != 0) {
      const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
      if (at <= last && std::memcmp(m.data() + at, key.data(), key.size()) == 0) return at;
      mask &= mask - 1;
    }
  }
  for (; i <= last; ++i) {
    if (m[i] == key[0] && std::memcmp(m.data() + i, key.data(), key.size()) == 0) return i;
  }
  return std::string_view::npos;
}

// The value after the first occurrence of `quoted_key` (with its quotes) that is followed by a
// colon, as the raw bytes up to the next ',' or '}' (strings: between their quotes, and only if
// they hold no escape). Empty when not found that way.
std::string_view RawValue(std::string_view m, std::string_view quoted_key, bool* is_string) {
  size_t from = 0;
  for (;;) {
    const size_t hit = FindKey(m, from, quoted_key);
    if (hit == std::string_view::npos) return {};
    size_t i = hit + quoted_key.size();
    from = i;
    while (i < m.size() && IsSpace(m[i])) ++i;
    if (i >= m.size() || m[i] != ':') continue;  // a value that happens to read like the key
    ++i;
    while (i < m.size() && IsSpace(m[i])) ++i;
    if (i >= m.size()) return {};
    if (m[i] == '"') {
      const size_t start = i + 1;
      const void* end = std::memchr(m.data() + start, '"', m.size() - start);
      if (end == nullptr) return {};
      const std::string_view s(
          m.data() + start, static_cast<size_t>(static_cast<const char*>(end) - m.data()) - start);
      if (s.find('\\') != std::string_view::npos) return {};
      *is_string = true;
      return s;
    }
    size_t end = i;
    while (end < m.size() && m[end] >= '0' && m[end] <= '9') ++end;
    if (end == i || end - i > 18) return {};
    size_t after = end;
    while (after < m.size() && IsSpace(m[after])) ++after;
    if (after >= m.size() || (m[after] != ',' && m[after] != '}')) return {};  // 1.5, 1e3, ...
    *is_string = false;
    return m.substr(i, end - i);
  }
}

}  // namespace

bool ScanRouteKey(std::string_view message, Rfc3339DateCache& dates, RouteKey* out) {
  bool is_string = false;
  const std::string_view device = RawValue(message, "\"device_id\"", &is_string);
  if (device.empty() || !is_string) return false;
  const auto id = ParseDeviceId(device);
  if (!id) return false;
  const std::string_view time = RawValue(message, "\"event_time\"", &is_string);
  if (time.empty()) return false;
  int64_t ms = 0;
  if (is_string) {
    const auto parsed = ParseRfc3339Utc(time, dates);
    if (!parsed) return false;
    ms = *parsed;
  } else {
    for (char c : time) ms = ms * 10 + (c - '0');
    if (!IsValidEpochMs(ms)) return false;
  }
  out->device = *id;
  out->event_ms = ms;
  return true;
}

}  // namespace smetsmon::decode
