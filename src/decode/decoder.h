// Decodes one untrusted alert message (a Kafka value or a JSON Lines line) into an AlertEvent,
// or says why it is invalid. Built on simdjson On-Demand; never throws, never crashes, allocates
// only when a new DMC/cohort label is first seen by this decoder.
//
// After a successful parse the event is enriched: area by gsp_group, then the MPAN distributor id,
// then the inventory, else unknown; generation, DMC, cohort and mpxn from the inventory when the
// message lacks them; generation defaults to SMETS2; the installation day from the inventory only.
//
// Thread-safety: one Decoder per thread (it owns a simdjson parser, a padded buffer and symbol
// caches). Time domain: `now` is the future-time check's reference, used for nothing else: the
// pipeline passes the later of the wall clock and the stream's own time (pipeline/future_time.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/fields.h"
#include "catalog/areas.h"
#include "catalog/inventory.h"
#include "catalog/symbols.h"
#include "smetsmon/reject_reason.h"
#include "smetsmon/types.h"

namespace smetsmon::decode {

inline constexpr size_t kMaxMessageBytes = 64 * 1024;
inline constexpr int64_t kMaxFutureMs = kMsPerHour;
inline constexpr uint32_t kDefaultMaxThrottledCount = 1'000'000;

struct DecoderRefs {
  const catalog::AreaTable* areas = nullptr;
  catalog::SymbolTable* dmcs = nullptr;
  catalog::SymbolTable* cohorts = nullptr;
  const catalog::Inventory* inventory = nullptr;  // optional
  // The largest `throttled_count` accepted (engine.max_throttled_count); above it the message is
  // bad_value. Bounds what one message can add to a window cell (aggregate/worker.h).
  uint32_t max_throttled_count = kDefaultMaxThrottledCount;
};

class Decoder {
 public:
  explicit Decoder(const DecoderRefs& refs);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes bytes that are not padded (e.g. a Kafka payload): copies them into a reused padded
  // buffer first.
  RejectReason Decode(std::string_view message, ProcessingTime now, AlertEvent* out);

  // Decodes `message` in place. The caller guarantees that `padded_capacity - message.size()` is
  // at least SIMDJSON_PADDING readable bytes after the message (their content does not matter).
  RejectReason DecodePadded(std::string_view message, size_t padded_capacity, ProcessingTime now,
                            AlertEvent* out);

  // Bytes of readable padding DecodePadded needs after a message.
  static size_t padding();

 private:
  struct Impl;
  RejectReason Enrich(AlertEvent* e) const;
  std::unique_ptr<Impl> impl_;
  DecoderRefs refs_;
  catalog::SymbolCache dmc_cache_;
  catalog::SymbolCache cohort_cache_;
  Rfc3339DateCache dates_;
};

}  // namespace smetsmon::decode
