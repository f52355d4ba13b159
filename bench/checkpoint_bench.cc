// smetsmon-bench-checkpoint [--devices N] [--dir DIR] [--in-place]: what a checkpoint costs at
// fleet scale. Fills the device table through the pipeline (one alert per device, two workers,
// the daemon's rules), then takes a checkpoint while ingesting (batches are submitted before and
// right after it) and restores it in a fresh process.
//   write_s:   from the pause to the file durable (fsync'ed and renamed);
//   stall_ms:  the longest any worker was held by it (with the writer in a child process: the
//              pause and the fork; with --in-place: the whole write);
//   restore_s: from the start of a new process to its pipeline built from the file, with the
//              page cache dropped first when this machine allows it (root; says so on stderr).
// Last line: {"devices":N,"bytes":...,"write_s":...,"stall_ms":...,"restore_s":...}
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_format.h"
#include "aggregate/engine.h"
#include "base/fields.h"
#include "bench_util.h"
#include "pipeline/pipeline.h"

extern char** environ;

namespace {
using namespace smetsmon;

struct Lines : pipeline::SourceBatch {
  std::vector<std::string> storage;
};

pipeline::PipelineConfig Config(uint64_t devices, const std::string& path, bool in_place) {
  pipeline::PipelineConfig config = bench::PipelineConfigFor(2, /*rules=*/true);
  config.engine.expected_devices = devices;  // sized for the fleet, as the daemon is
  config.checkpoint_path = path;
  config.checkpoint_required = true;
  config.checkpoint_in_child = !in_place;
  return config;
}

// The restore half, in its own process: builds the pipeline from the checkpoint and exits.
int Restore(uint64_t devices, const std::string& path) {
  SystemClock clock;
  auto built = pipeline::Pipeline::Create(Config(devices, path, false), clock);
  if (!built.ok()) {
    std::fprintf(stderr, "restore: %s\n", built.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "restored %llu devices\n",
               static_cast<unsigned long long>((*built)->engine().Counters().devices));
  std::_Exit(0);  // skip freeing tens of millions of entries: the process is done
}

bool DropPageCache() {
  ::sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  f << "3\n";
  f.flush();
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t devices = 30'000'000;
  std::string dir = "/tmp";
  std::string restore_path;
  bool in_place = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--devices") == 0 && i + 1 < argc) {
      devices = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else if (std::strcmp(argv[i], "--in-place") == 0) {
      in_place = true;
    } else if (std::strcmp(argv[i], "--restore") == 0 && i + 1 < argc) {
      restore_path = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: smetsmon-bench-checkpoint [--devices N] [--dir DIR] [--in-place]\n");
      return 2;
    }
  }
  if (!restore_path.empty()) return Restore(devices, restore_path);

  const std::string path = dir + "/smetsmon-bench.ckpt";
  std::remove(path.c_str());
  SystemClock clock;
  auto built = pipeline::Pipeline::Create(Config(devices, path, in_place), clock);
  if (!built.ok()) {
    std::fprintf(stderr, "bench: %s\n", built.status().ToString().c_str());
    return 2;
  }
  pipeline::Pipeline& p = **built;
  uint64_t serial = 0;
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
  // One alert for device d (of the fleet), a little later each round.
  const auto add = [&](uint64_t d, int64_t t_ms) {
    const DeviceId id{0x00DB000000000000ULL + d * 0x9E3779B1ULL % (uint64_t{1} << 48)};
    if (batch == nullptr) batch = std::make_unique<Lines>();
    batch->storage.push_back(absl::StrFormat(
        R"({"alert_id":"c-%d","device_id":"%s","alert_code":"8F40","event_time":%d,)"
        R"("smets":2,"gsp_group":"_C","voltage_dv":%d})",
        serial++, FormatDeviceId(id), t_ms, 2530 + static_cast<int>(d % 60)));
    if (batch->storage.size() == 4096) submit();
  };
  const int64_t t0 = 1687780800000;
  for (uint64_t d = 0; d < devices; ++d) add(d, t0 + static_cast<int64_t>(d % 3'600'000));
  if (batch != nullptr) submit();
  // While ingesting: batches queued right before (the checkpoint waits for them) and after.
  for (uint64_t d = 0; d < 40'960; ++d) add(d * 7 % devices, t0 + 3'600'000);
  p.Reap(/*wait=*/true, {});
  const auto begin = std::chrono::steady_clock::now();
  if (absl::Status s = p.BeginCheckpoint({{"smets.alerts", 0, static_cast<int64_t>(serial)}});
      !s.ok()) {
    std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
    return 1;
  }
  for (uint64_t d = 0; d < 409'600; ++d) add(d * 13 % devices, t0 + 3'601'000);
  if (batch != nullptr) submit();
  const pipeline::CheckpointOutcome out = *p.PollCheckpoint(/*wait=*/true);
  const double ingest_during_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  if (!out.status.ok()) {
    std::fprintf(stderr, "bench: %s\n", out.status.ToString().c_str());
    return 1;
  }
  p.Finish({});
  std::fprintf(stderr, "checkpoint %s: %llu bytes, write %.2f s, stall %.1f ms%s\n", path.c_str(),
               static_cast<unsigned long long>(out.bytes), out.duration_s, out.stall_s * 1000,
               in_place ? " (in place)" : " (child process)");
  std::fprintf(stderr, "ingest went on during the write: 409600 events submitted in %.2f s\n",
               ingest_during_s);

  const bool dropped = DropPageCache();
  std::fprintf(stderr, dropped ? "page cache dropped before the restore\n"
                               : "page cache NOT dropped (needs root): restore reads from cache\n");
  const std::string self = "/proc/self/exe";
  const std::string devices_arg = std::to_string(devices);
  std::vector<char*> args = {const_cast<char*>("smetsmon-bench-checkpoint"),
                             const_cast<char*>("--devices"),
                             const_cast<char*>(devices_arg.c_str()),
                             const_cast<char*>("--restore"),
                             const_cast<char*>(path.c_str()),
                             nullptr};
  const auto restore_begin = std::chrono::steady_clock::now();
  pid_t child = -1;
  if (::posix_spawn(&child, self.c_str(), nullptr, nullptr, args.data(), environ) != 0) {
    std::fprintf(stderr, "bench: cannot start the restore process\n");
    return 1;
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const double restore_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_begin).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: the restore failed\n");
    return 1;
  }
  std::printf(
      "{\"devices\":%llu,\"bytes\":%llu,\"write_s\":%.3f,\"stall_ms\":%.1f,\"restore_s\":%.2f}\n",
      static_cast<unsigned long long>(devices), static_cast<unsigned long long>(out.bytes),
      out.duration_s, out.stall_s * 1000, restore_s);
  std::fflush(stdout);
  std::remove(path.c_str());
  std::_Exit(0);
}
