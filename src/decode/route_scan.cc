#include "decode/route_scan.h"

#include <cstring>

namespace smetsmon::decode {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The value after the first occurrence of `quoted_key` (with its quotes) that is followed by a
// colon, as the raw bytes up to the next ',' or '}' (strings: between their quotes, and only if
// they hold no escape). Empty when not found that way.
std::string_view RawValue(std::string_view m, std::string_view quoted_key, bool* is_string) {
  size_t from = 0;
  for (;;) {
    const void* hit = memmem(m.data() + from, m.size() - from, quoted_key.data(), quoted_key.size());
    if (hit == nullptr) return {};
    size_t i = static_cast<size_t>(static_cast<const char*>(hit) - m.data()) + quoted_key.size();
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
      const std::string_view s(m.data() + start,
                               static_cast<size_t>(static_cast<const char*>(end) - m.data()) - start);
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
