// Decoder throughput on contract-shaped messages (Google Benchmark).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.h"
#include "decode/decoder.h"

namespace smetsmon {
namespace {

std::vector<std::string> Messages() {
  std::vector<std::string> m;
  for (int i = 0; i < 1024; ++i) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  R"({"alert_id":"90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-%02X-%02X:%d",)"
                  R"("device_id":"00-DB-12-34-56-78-%02X-%02X","alert_code":"%s",)"
                  R"("event_time":"2023-06-26T12:%02d:%02d.%03dZ","dcc_time":%lld,"smets":%d,)"
                  R"("mpxn":"1612345678900","dmc":"MDS-ELSTER-A1140","voltage_dv":%d})",
                  i >> 8, i & 255, i, i >> 8, i & 255, i % 3 ? "8F40" : "8014", i % 60, i % 60,
                  i % 1000, 1687780800000LL + i * 1000, 1 + i % 2, 2530 + i % 50);
    m.emplace_back(buf);
  }
  return m;
}

void BM_Decode(benchmark::State& state) {
  auto ref = bench::LoadReference();
  decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  const auto messages = Messages();
  AlertEvent e;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& m = messages[i++ & 1023];
    benchmark::DoNotOptimize(decoder.Decode(m, ProcessingTime{1800000000000}, &e));
    bytes += static_cast<int64_t>(m.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Decode);

void BM_DecodeRejectNotJson(benchmark::State& state) {
  auto ref = bench::LoadReference();
  decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  const std::string bad = R"({"alert_id":"x","device_id":)";
  AlertEvent e;
  for (auto _ : state) benchmark::DoNotOptimize(decoder.Decode(bad, ProcessingTime{0}, &e));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeRejectNotJson);

}  // namespace
}  // namespace smetsmon
