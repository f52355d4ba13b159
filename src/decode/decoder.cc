#include "decode/decoder.h"

#include <simdjson.h>

#include <cstring>

#include "base/fields.h"

namespace smetsmon::decode {
namespace od = simdjson::ondemand;

struct Decoder::Impl {
  od::parser parser{kMaxMessageBytes};
  std::vector<char> buffer = std::vector<char>(kMaxMessageBytes + simdjson::SIMDJSON_PADDING);
};

namespace {

enum RequiredBit : uint8_t {
  kAlertId = 1,
  kDeviceId = 2,
  kAlertCodeBit = 4,
  kEventTime = 8,
  kAllRequired = 15,
};

// Maps a simdjson error on a value access to our reason: a type mismatch is the sender's wrong
// type; anything else means the document itself is broken.
RejectReason TypeOrJson(simdjson::error_code err) {
  return err == simdjson::INCORRECT_TYPE ? RejectReason::kWrongType : RejectReason::kNotJson;
}

// Compares a raw key (closing quote included) with a literal using fixed-size loads that the
// compiler inlines (a constant-size memcmp is not always inlined).
template <size_t N>
inline bool KeyIs(const char* raw, const char (&name_and_quote)[N]) {
  constexpr size_t kLen = N - 1;
  static_assert(kLen >= 4 && kLen <= 16);
  constexpr size_t kHead = kLen < 8 ? 4 : 8;
  uint64_t a = 0, b = 0;
  std::memcpy(&a, raw, kHead);
  std::memcpy(&b, name_and_quote, kHead);
  if (a != b) return false;
  if constexpr (kLen > kHead) {
    // The tail overlaps the head when kLen < 2 * kHead; comparing it twice is harmless.
    constexpr size_t kTail = kLen - kHead <= 4 ? 4 : 8;
    uint64_t c = 0, d = 0;
    std::memcpy(&c, raw + kLen - kTail, kTail);
    std::memcpy(&d, name_and_quote + kLen - kTail, kTail);
    return c == d;
  }
  return true;
}

// True when any of the `n` bytes at `p` is a backslash: eight bytes at a time (the classic
// "has zero byte" test on the bytes XOR '\\'), inline, where a memchr call per string cost more
// than the strings are long.
inline bool HasBackslash(const char* p, size_t n) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  constexpr uint64_t kBackslashes = kOnes * '\\';
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= kBackslashes;
    if ((w - kOnes) & ~w & kHighs) return true;
  }
  for (; i < n; ++i) {
    if (p[i] == '\\') return true;
  }
  return false;
}

// Nearly every contract string is plain ASCII without escapes: take those straight from the input
// (no copy into simdjson's string buffer) and unescape only when a backslash is present.
// `token` is the value's raw_json_token() (quotes included, may end in whitespace), passed in
// by callers that already looked at it.
inline RejectReason ReadString(od::value& v, std::string_view token, std::string_view* s) {
  while (token.size() > 2 && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                              token.back() == '\t')) {
    token.remove_suffix(1);
  }
  if (token.size() >= 2 && token.front() == '"' && token.back() == '"' &&
      !HasBackslash(token.data() + 1, token.size() - 2)) {
    od::raw_json_string raw;
    if (auto err = v.get_raw_json_string().get(raw)) return TypeOrJson(err);  // advances
    *s = token.substr(1, token.size() - 2);
    return RejectReason::kNone;
  }
  if (auto err = v.get_string().get(*s)) return TypeOrJson(err);
  return RejectReason::kNone;
}

inline RejectReason ReadString(od::value& v, std::string_view* s) {
  return ReadString(v, v.raw_json_token(), s);
}

// event_time / dcc_time: RFC 3339 UTC string or integer epoch milliseconds. The value's first
// byte tells which (simdjson's type() does the same, through more layers).
RejectReason ReadTime(od::value& v, Rfc3339DateCache& dates, int64_t* ms) {
  const std::string_view token = v.raw_json_token();
  const char first = token.front();
  if (first == '"') {
    std::string_view s;
    if (const RejectReason r = ReadString(v, token, &s); r != RejectReason::kNone) return r;
    const auto parsed = ParseRfc3339Utc(s, dates);
    if (!parsed) return RejectReason::kBadTime;
    *ms = *parsed;
    return RejectReason::kNone;
  }
  if (first == '-' || (first >= '0' && first <= '9')) {
    int64_t n;
    if (auto err = v.get_int64().get(n)) {
      return err == simdjson::INCORRECT_TYPE || err == simdjson::NUMBER_OUT_OF_RANGE
                 ? RejectReason::kBadTime
                 : RejectReason::kNotJson;
    }
    if (!IsValidEpochMs(n)) return RejectReason::kBadTime;
    *ms = n;
    return RejectReason::kNone;
  }
  // Any other value: a JSON literal, object or array is the wrong type; anything else (a
  // misspelt literal included: simdjson types a value by its first byte) is broken.
  od::json_type type;
  if (v.type().get(type)) return RejectReason::kNotJson;
  if (type == od::json_type::boolean) {
    bool b;
    return v.get_bool().get(b) ? RejectReason::kNotJson : RejectReason::kWrongType;
  }
  if (type == od::json_type::null) {
    bool is_null = false;
    return !v.is_null().get(is_null) && is_null ? RejectReason::kWrongType : RejectReason::kNotJson;
  }
  return RejectReason::kWrongType;
}

RejectReason ReadInt(od::value& v, int64_t* n) {
  if (auto err = v.get_int64().get(*n)) {
    return err == simdjson::NUMBER_OUT_OF_RANGE ? RejectReason::kBadValue : TypeOrJson(err);
  }
  return RejectReason::kNone;
}

}  // namespace

Decoder::Decoder(const DecoderRefs& refs)
    : impl_(std::make_unique<Impl>()),
      refs_(refs),
      dmc_cache_(*refs.dmcs),
      cohort_cache_(*refs.cohorts) {}

Decoder::~Decoder() = default;

size_t Decoder::padding() { return simdjson::SIMDJSON_PADDING; }

RejectReason Decoder::Decode(std::string_view message, ProcessingTime now, AlertEvent* out) {
  if (message.size() > kMaxMessageBytes) return RejectReason::kTooLarge;
  if (!message.empty()) std::memcpy(impl_->buffer.data(), message.data(), message.size());
  return DecodePadded(std::string_view(impl_->buffer.data(), message.size()), impl_->buffer.size(),
                      now, out);
}

RejectReason Decoder::DecodePadded(std::string_view message, size_t padded_capacity,
                                   ProcessingTime now, AlertEvent* out) {
  if (message.size() > kMaxMessageBytes) return RejectReason::kTooLarge;
  od::document doc;
  if (impl_->parser
          .iterate(simdjson::padded_string_view(message.data(), message.size(), padded_capacity))
          .get(doc)) {
    return RejectReason::kNotJson;
  }
  od::json_type type;
  if (doc.type().get(type)) return RejectReason::kNotJson;
  if (type != od::json_type::object) {
    // The type comes from the first character only: make sure a scalar really is one before
    // calling the message valid JSON of the wrong shape ("nonsense" is not JSON at all).
    bool valid = true;
    switch (type) {
      case od::json_type::number: {
        od::number num;
        valid = !doc.get_number().get(num);
        break;
      }
      case od::json_type::string: {
        std::string_view sv;
        valid = !doc.get_string().get(sv);
        break;
      }
      case od::json_type::boolean: {
        bool b;
        valid = !doc.get_bool().get(b);
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        valid = !doc.is_null().get(is_null) && is_null;
        break;
      }
      default:
        break;
    }
    return valid ? RejectReason::kNotObject : RejectReason::kNotJson;
  }
  od::object obj;
  if (doc.get_object().get(obj)) return RejectReason::kNotJson;

  AlertEvent e;
  uint8_t required = 0;
  std::string_view s;
  int64_t n = 0;
  for (auto field_result : obj) {
    if (field_result.error()) return RejectReason::kNotJson;
    // By reference: copying the field out costs a store-forwarding stall per field.
    od::field& field = field_result.value_unsafe();
    // Keys are compared on the raw bytes, closing quote included, so "dmc" does not match
    // "dmcx" and an escaped key never matches (no contract key needs escaping); the padding
    // after the message keeps the over-read in bounds.
    const char* key = field.key().raw();
    od::value& v = field.value();
    RejectReason r = RejectReason::kNone;
    // Dispatch on the first character of the key; unknown fields are skipped by the iterator.
    switch (*key) {
      case 'a':
        if (KeyIs(key, "alert_id\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          if (s.empty() || s.size() > 128) return RejectReason::kBadAlertId;
          e.alert_fingerprint = StableHash64(s);
          required |= kAlertId;
        } else if (KeyIs(key, "alert_code\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          const auto code = ParseAlertCode(s);
          if (!code) return RejectReason::kBadAlertCode;
          e.code = *code;
          required |= kAlertCodeBit;
        }
        break;
      case 'd':
        if (KeyIs(key, "device_id\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          const auto id = ParseDeviceId(s);
          if (!id) return RejectReason::kBadDeviceId;
          e.device = *id;
          required |= kDeviceId;
        } else if (KeyIs(key, "dcc_time\"")) {
          if ((r = ReadTime(v, dates_, &n)) != RejectReason::kNone) return r;
          e.dcc_time = EventTime{n};
          e.present |= AlertEvent::kHasDccTime;
        } else if (KeyIs(key, "dmc\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          if (s.size() > 64) return RejectReason::kBadValue;
          e.dmc = DmcId{dmc_cache_.Intern(s)};
          if (!s.empty()) e.present |= AlertEvent::kHasDmc;
        }
        break;
      case 'e':
        if (KeyIs(key, "event_time\"")) {
          if ((r = ReadTime(v, dates_, &n)) != RejectReason::kNone) return r;
          e.event_time = EventTime{n};
          required |= kEventTime;
        }
        break;
      case 's':
        if (KeyIs(key, "smets\"")) {
          if ((r = ReadInt(v, &n)) != RejectReason::kNone) return r;
          if (n != 1 && n != 2) return RejectReason::kBadValue;
          e.generation = static_cast<Generation>(n);
          e.present |= AlertEvent::kHasSmets;
        }
        break;
      case 'm':
        if (KeyIs(key, "mpxn\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          const auto m = ParseMpxn(s);
          if (!m) return RejectReason::kBadMpxn;
          e.mpxn = *m;
          e.present |= AlertEvent::kHasMpxn;
        }
        break;
      case 'g':
        if (KeyIs(key, "gsp_group\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          const auto g = ParseGspGroup(s);
          if (!g) return RejectReason::kBadValue;
          const AreaId area = refs_.areas->ByGspGroup(*g);
          if (area == kUnknownArea) return RejectReason::kBadValue;
          e.area = area;
          e.present |= AlertEvent::kHasArea;
        }
        break;
      case 'c':
        if (KeyIs(key, "cohort\"")) {
          if ((r = ReadString(v, &s)) != RejectReason::kNone) return r;
          if (s.size() > 16) return RejectReason::kBadValue;
          e.cohort = CohortId{cohort_cache_.Intern(s)};
          if (!s.empty()) e.present |= AlertEvent::kHasCohort;
        }
        break;
      case 'v':
        if (KeyIs(key, "voltage_dv\"")) {
          if ((r = ReadInt(v, &n)) != RejectReason::kNone) return r;
          if (n < 0 || n > 65535) return RejectReason::kBadValue;
          e.voltage_dv = static_cast<int32_t>(n);
          e.present |= AlertEvent::kHasVoltage;
        }
        break;
      case 't':
        if (KeyIs(key, "throttled_count\"")) {
          if ((r = ReadInt(v, &n)) != RejectReason::kNone) return r;
          if (n < 1 || n > static_cast<int64_t>(refs_.max_throttled_count))
            return RejectReason::kBadValue;
          e.throttled_count = static_cast<uint32_t>(n);
        }
        break;
      default:
        break;
    }
  }
  // Anything after the object (a second value) makes the message not one JSON object.
  if (!doc.current_location().error()) return RejectReason::kNotJson;
  if (required != kAllRequired) return RejectReason::kMissingField;
  if (e.event_time.ms > now.ms + kMaxFutureMs) return RejectReason::kFutureTime;
  const RejectReason r = Enrich(&e);
  if (r == RejectReason::kNone) *out = e;
  return r;
}

RejectReason Decoder::Enrich(AlertEvent* e) const {
  if (!(e->present & AlertEvent::kHasArea) && e->mpxn != 0) {
    const AreaId a = refs_.areas->ByDistributorId(MpanDistributorId(e->mpxn));
    if (a != kUnknownArea) {
      e->area = a;
      e->present |= AlertEvent::kHasArea;
    }
  }
  if (refs_.inventory != nullptr) {
    if (const catalog::InventoryRecord* inv = refs_.inventory->Find(e->device)) {
      if (!(e->present & AlertEvent::kHasArea)) e->area = inv->area;
      if (!(e->present & AlertEvent::kHasSmets)) e->generation = inv->generation;
      if (!(e->present & AlertEvent::kHasDmc)) e->dmc = inv->dmc;
      if (!(e->present & AlertEvent::kHasCohort)) e->cohort = inv->cohort;
      if (!(e->present & AlertEvent::kHasMpxn)) e->mpxn = inv->mpxn;
      e->installed_day = catalog::InstalledDay16(inv->installed_day);
    }
  }
  if (e->generation == Generation::kUnknown) e->generation = Generation::kSmets2;
  return RejectReason::kNone;
}

}  // namespace smetsmon::decode
