// Helpers shared by the bench programs: loading the shipped config and reading process RSS.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "catalog/reference_data.h"

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

inline uint64_t RssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace smetsmon::bench
