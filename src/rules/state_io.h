// Small helpers for the rules' checkpoint state (the SaveState/LoadState of the evaluator and its
// parts): booleans and enums as one validated byte, optional times, and counts read defensively.
//
// The state comes back from a file, so a reader never trusts it: a count is checked against a
// bound before anything is done with it, nothing is allocated from a count (items are read one
// by one while the reader is ok, so a hostile count costs at most one pass over the bytes that
// are there), and a byte that is not a valid bool or enum value fails the reader instead of
// becoming an invalid value (undefined behaviour).
//
// Time domain: none. Thread-safety: none (they work on the caller's reader or writer).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "base/binary_file.h"
#include "smetsmon/types.h"

namespace smetsmon::rules::state_io {

inline void PutBool(BinaryWriter& w, bool b) { w.Pod<uint8_t>(b ? 1 : 0); }
inline bool GetBool(BinaryReader& r) {
  const auto v = r.Pod<uint8_t>();
  if (v > 1) r.Fail();
  return v == 1;
}

template <typename E>
void PutEnum(BinaryWriter& w, E e) {
  w.Pod<uint8_t>(static_cast<uint8_t>(e));
}
// Values above `max` fail the reader (and give E{}).
template <typename E>
E GetEnum(BinaryReader& r, uint8_t max) {
  const auto v = r.Pod<uint8_t>();
  if (v > max) {
    r.Fail();
    return E{};
  }
  return static_cast<E>(v);
}

// Times (and durations) in the state lie between EventTime::Min() (the "never" the rules start
// from) and kMaxTimeMs (some 70 million years of Unix time): any difference of two of them fits
// in an int64, so the rules' time arithmetic cannot overflow on a hostile state.
inline constexpr int64_t kMaxTimeMs = int64_t{1} << 61;
inline bool ValidTimeMs(int64_t ms) { return ms >= EventTime::Min().ms && ms <= kMaxTimeMs; }

inline void PutTime(BinaryWriter& w, EventTime t) { w.Pod<int64_t>(t.ms); }
// Outside [EventTime::Min(), kMaxTimeMs] the reader fails (and gives 0).
inline EventTime GetTime(BinaryReader& r) {
  const auto ms = r.Pod<int64_t>();
  if (!ValidTimeMs(ms)) {
    r.Fail();
    return EventTime{0};
  }
  return EventTime{ms};
}
inline int64_t GetTimeMs(BinaryReader& r) { return GetTime(r).ms; }

inline void PutOptionalTime(BinaryWriter& w, const std::optional<EventTime>& t) {
  PutBool(w, t.has_value());
  w.Pod<int64_t>(t ? t->ms : 0);
}
inline std::optional<EventTime> GetOptionalTime(BinaryReader& r) {
  const bool has = GetBool(r);
  const EventTime t = GetTime(r);
  if (!has || !r.ok()) return std::nullopt;
  return t;
}

// A rate, baseline or share as the rules compute them: finite and not negative (the reader fails
// otherwise). Written as its bits, so it comes back exactly.
inline double GetNonNegative(BinaryReader& r) {
  const auto v = r.Pod<double>();
  if (!(v >= 0) || !std::isfinite(v)) r.Fail();
  return v;
}

inline void PutCount(BinaryWriter& w, size_t n) { w.Pod<uint64_t>(n); }
// The number of items that follow; beyond `max` the reader fails and 0 is returned. The caller
// reads the items one at a time while r.ok() (never reserving `n`).
inline uint64_t GetCount(BinaryReader& r, uint64_t max) {
  const auto n = r.Pod<uint64_t>();
  if (!r.ok() || n > max) {
    r.Fail();
    return 0;
  }
  return n;
}

// Strings in the state: ids, names, explanations. Bounded so that a file reader never allocates
// much from a hostile length (a memory reader also checks the bytes left).
inline constexpr size_t kMaxText = 1 << 20;
inline constexpr size_t kMaxFingerprint = 1 << 16;

// A fingerprint of the settings a part of the state was taken under: the settings' own bytes
// (exact: no hash collisions), compared on load to decide whether the part still applies.
class Fingerprint {
 public:
  Fingerprint() : w_(BinaryWriter::ToMemory()) {}
  template <typename T>
  Fingerprint& Pod(const T& v) {
    w_.Pod(v);
    return *this;
  }
  Fingerprint& String(const std::string& s) {
    w_.String(s);
    return *this;
  }
  std::string Take() { return w_.TakeBytes(); }

 private:
  BinaryWriter w_;
};

}  // namespace smetsmon::rules::state_io
