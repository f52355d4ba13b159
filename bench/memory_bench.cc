// smetsmon-bench-memory [--devices N]: fills the device table through the engine (one alert per
// device) and reports the state cost per device and the process RSS.
// Last line: {"devices":N,"bytes_per_device":...,"rss_bytes":...}
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "aggregate/engine.h"
#include "bench_util.h"

int main(int argc, char** argv) {
  using namespace smetsmon;
  uint64_t devices = 30'000'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--devices") == 0 && i + 1 < argc) {
      devices = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: smetsmon-bench-memory [--devices N]\n");
      return 2;
    }
  }
  auto ref = bench::LoadReference();
  aggregate::EngineConfig config;  // defaults, as the daemon runs, sized for the fleet
  config.expected_devices = devices;
  aggregate::Engine engine(ref, config);
  const uint64_t rss_before = bench::RssBytes();
  AlertEvent e;
  e.code = AlertCode{0x8F40};
  e.generation = Generation::kSmets2;
  e.area = ref.areas->ByDistributorId(16);
  for (uint64_t d = 0; d < devices; ++d) {
    e.device = DeviceId{0x00DB000000000000ULL + d * 0x9E3779B1ULL % (uint64_t{1} << 48)};
    e.alert_fingerprint = d * 0x9E3779B97F4A7C15ULL + 1;
    e.event_time = EventTime{1687780800000 + static_cast<int64_t>(d % 3'600'000)};
    e.voltage_dv = 2530 + static_cast<int32_t>(d % 60);
    e.present = AlertEvent::kHasVoltage;
    engine.WorkerFor(e.device).Apply(e);
  }
  uint64_t table_bytes = 0;
  uint64_t stored = 0;
  for (size_t w = 0; w < engine.worker_count(); ++w) {
    table_bytes += engine.worker(w).devices().memory_bytes();
    stored += engine.worker(w).devices().size();
  }
  const uint64_t rss = bench::RssBytes();
  std::fprintf(stderr,
               "devices stored %llu, table %llu bytes (%zu B state + 8 B key per slot), "
               "RSS before fill %llu, after %llu\n",
               static_cast<unsigned long long>(stored),
               static_cast<unsigned long long>(table_bytes), sizeof(aggregate::DeviceState),
               static_cast<unsigned long long>(rss_before), static_cast<unsigned long long>(rss));
  std::printf("{\"devices\":%llu,\"bytes_per_device\":%.1f,\"rss_bytes\":%llu}\n",
              static_cast<unsigned long long>(stored),
              static_cast<double>(table_bytes) / static_cast<double>(stored ? stored : 1),
              static_cast<unsigned long long>(rss));
  return stored == devices ? 0 : 1;
}
