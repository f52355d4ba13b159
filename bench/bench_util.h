// Helpers shared by the bench programs: loading the shipped config and reading process RSS.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "catalog/reference_data.h"
#include "pipeline/pipeline.h"

namespace smetsmon::bench {

inline catalog::ReferenceData LoadReference() {
  catalog::ReferenceOptions options;
  options.config_dir = std::string(SMETSMON_SOURCE_DIR) + "/config";
  auto ref = catalog::LoadReferenceConfig(options);
  if (!ref.ok()) {
    std::fprintf(stderr, "bench: %s\n", ref.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(*ref);
}

inline pipeline::PipelineConfig PipelineConfigFor(size_t workers, bool rules) {
  pipeline::PipelineConfig c;
  c.reference.config_dir = std::string(SMETSMON_SOURCE_DIR) + "/config";
  c.engine.workers = workers;
  c.rules = rules;
  return c;
}

// CPU seconds (user + system) of this process's threads whose name starts with `prefix`, from
// /proc (clock-tick resolution: measure over seconds).
inline double ThreadCpuSeconds(const std::string& prefix);

// The pipeline's own threads: its workers, its rules thread and the Kafka poll loop (a bench's
// main thread is named after the program, "smetsmon-bench-...", and is not one of them).
inline double PipelineThreadsCpuSeconds() {
  return ThreadCpuSeconds("smetsmon-w") + ThreadCpuSeconds("smetsmon-rules") +
         ThreadCpuSeconds("smetsmon-poll");
}

inline double ThreadCpuSeconds(const std::string& prefix) {
  double total = 0;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::FILE* f = std::fopen((task.path() / "stat").c_str(), "r");
    if (f == nullptr) continue;
    char buf[1024];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const std::string stat(buf);
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (stat.compare(open + 1, prefix.size(), prefix) != 0) continue;
    // Fields after the name: state(3) ... utime(14) stime(15), counted from the closing paren.
    unsigned long utime = 0, stime = 0;
    if (std::sscanf(stat.c_str() + close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                    &utime, &stime) == 2) {
      total += static_cast<double>(utime + stime) / static_cast<double>(ticks);
    }
  }
  return total;
}

inline uint64_t RssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace smetsmon::bench
