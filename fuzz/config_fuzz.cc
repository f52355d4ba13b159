// Fuzzes the YAML config loaders through their file entry points, one target per loader (CMake
// compiles this file once per SMETSMON_FUZZ_LOADER value):
//   1 areas.yaml            catalog::AreaTable::Load
//   2 alert_catalogue.yaml  catalog::AlertCatalogue::Load
//   3 rules.yaml            rules::LoadRulesConfig (against the shipped areas and catalogue)
//   4 smetsmon.yaml         app::LoadSettings
//   5 webhooks: section     webhook::LoadWebhookConfig (of a document yaml-cpp parses)
// Any input is loaded or refused with a Status: an exception escaping a loader aborts the target
// (libFuzzer reports it as a crash).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_util.h"

#if SMETSMON_FUZZ_LOADER == 1 || SMETSMON_FUZZ_LOADER == 2
#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#elif SMETSMON_FUZZ_LOADER == 3
#include "rules/rules_config.h"
#elif SMETSMON_FUZZ_LOADER == 4
#include "app/settings.h"
#elif SMETSMON_FUZZ_LOADER == 5
#include <yaml-cpp/yaml.h>

#include "webhook/config.h"
#else
#error "SMETSMON_FUZZ_LOADER must be 1..5"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smetsmon;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
#if SMETSMON_FUZZ_LOADER == 1
  (void)catalog::AreaTable::Load(fuzz::WriteScratch(bytes, ".yaml"));
#elif SMETSMON_FUZZ_LOADER == 2
  (void)catalog::AlertCatalogue::Load(fuzz::WriteScratch(bytes, ".yaml"));
#elif SMETSMON_FUZZ_LOADER == 3
  (void)rules::LoadRulesConfig(fuzz::WriteScratch(bytes, ".yaml"), fuzz::Reference());
#elif SMETSMON_FUZZ_LOADER == 4
  // A file path (not a directory): the settings alone, areas and catalogue are loaded later.
  (void)app::LoadSettings(fuzz::WriteScratch(bytes, ".yaml"));
#elif SMETSMON_FUZZ_LOADER == 5
  // The loader takes a parsed node (LoadSettings parses the file); a document yaml-cpp itself
  // refuses is not the loader's input.
  static const bool env_set = ::setenv("SMETSMON_FUZZ_WEBHOOK_SECRET", "fuzz-secret", 1) == 0;
  (void)env_set;  // the seed's receiver names its secret by this variable
  YAML::Node root;
  try {
    root = YAML::Load(std::string(bytes));
  } catch (const YAML::Exception&) {
    return 0;
  }
  const YAML::Node section = root.IsMap() ? root["webhooks"] : YAML::Node();
  (void)webhook::LoadWebhookConfig(section, "smetsmon.yaml", *fuzz::Reference().areas);
#endif
  return 0;
}
