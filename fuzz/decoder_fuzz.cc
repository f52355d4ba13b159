// Fuzzes the event decoder (decode/decoder.h) with raw message bytes, as a Kafka value arrives:
// any input is either decoded or rejected with a reason, never a crash, leak or UB. The shipped
// areas and catalogue enrich the event; the symbol tables fill up to their caps over a run, so
// the full-table path is reached too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "decode/decoder.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smetsmon;
  const catalog::ReferenceData& ref = fuzz::Reference();
  static decode::Decoder* decoder = new decode::Decoder(
      decode::DecoderRefs{ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  AlertEvent event;
  // 2023-06-27T12:00:00Z: the sample events (June 2023) are in the past, not in the future.
  (void)decoder->Decode(message, ProcessingTime{1687867200000}, &event);
  return 0;
}
