// smetsmon-bench-memory [--devices N]: fills the device table through the pipeline (one alert
// message per device, the daemon's defaults, rules off) and reports the state cost per device and
// the process RSS.
// Last line: {"devices":N,"bytes_per_device":...,"rss_bytes":...}
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "aggregate/engine.h"
#include "base/fields.h"
#include "bench_util.h"
#include "pipeline/pipeline.h"

namespace {
struct Lines : smetsmon::pipeline::SourceBatch {
  std::vector<std::string> storage;
};
}  // namespace

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
  pipeline::PipelineConfig config = bench::PipelineConfigFor(1, /*rules=*/false);
  config.engine.expected_devices = devices;  // sized for the fleet, as the daemon is
  SystemClock clock;
  auto built = pipeline::Pipeline::Create(config, clock);
  if (!built.ok()) {
    std::fprintf(stderr, "bench: %s\n", built.status().ToString().c_str());
    return 2;
  }
  pipeline::Pipeline& p = **built;
  const uint64_t rss_before = bench::RssBytes();
  std::unique_ptr<Lines> batch;
  const auto submit = [&] {
    for (const std::string& l : batch->storage) batch->messages.emplace_back(l);
    batch->received = ProcessingTime{4'000'000'000'000};
    while (!p.CanSubmit()) {
      p.WaitForFront(1000);
      p.Reap(false, {});
    }
    p.Submit(std::move(batch));
  };
  for (uint64_t d = 0; d < devices; ++d) {
    const DeviceId id{0x00DB000000000000ULL + d * 0x9E3779B1ULL % (uint64_t{1} << 48)};
    if (batch == nullptr) batch = std::make_unique<Lines>();
    batch->storage.push_back(absl::StrFormat(
        R"({"alert_id":"m-%d","device_id":"%s","alert_code":"8F40","event_time":%d,)"
        R"("smets":2,"gsp_group":"_C","voltage_dv":%d})",
        d, FormatDeviceId(id), 1687780800000 + static_cast<int64_t>(d % 3'600'000),
        2530 + static_cast<int>(d % 60)));
    if (batch->storage.size() == 4096) submit();
  }
  if (batch != nullptr) submit();
  p.Finish({});
  p.Stop();  // the workers joined: their tables may be read
  const aggregate::Engine& engine = p.engine();
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
