// Shared helpers of the libFuzzer targets (fuzz/*_fuzz.cc): the shipped reference data, loaded
// once per process, and a per-process scratch file for loaders that read a path.
//
// Thread-safety: none; libFuzzer calls a target from one thread (-jobs=1 runs processes).
// Time domain: none (targets pass fixed processing times).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "catalog/reference_data.h"

namespace smetsmon::fuzz {

// The repository's config/ (areas.yaml, alert_catalogue.yaml, rules.yaml), set by CMake.
inline std::string ConfigDir() { return absl::StrCat(SMETSMON_SOURCE_DIR, "/config"); }

// Areas and catalogue of the shipped config, with empty symbol tables. Aborts if they do not
// load: a target without them would fuzz nothing.
inline const catalog::ReferenceData& Reference() {
  static const catalog::ReferenceData* ref = [] {
    catalog::ReferenceOptions options;
    options.config_dir = ConfigDir();
    auto r = catalog::LoadReferenceConfig(options);
    if (!r.ok()) std::abort();
    return new catalog::ReferenceData(std::move(*r));
  }();
  return *ref;
}

// Writes `bytes` to this process's scratch file (the same path every call) and returns its path.
// The file loaders are fuzzed through the same entry point the daemon uses.
inline const std::string& WriteScratch(std::string_view bytes, std::string_view suffix = "") {
  static std::string path;
  const char* tmp = std::getenv("TMPDIR");
  path = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/smetsmon-fuzz-", ::getpid());
  path.append(suffix.data(), suffix.size());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace smetsmon::fuzz
