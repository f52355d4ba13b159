// smetsmon check-config [DIR|FILE]: loads and validates the whole configuration as `run` does at
// startup (the same loaders, in the same order), without connecting to Kafka or binding a port.
// Prints "configuration OK: DIR" (exit 0) or each error found, file:line: field: what (exit 2).
// A value of a Kafka property is never printed: librdkafka's refusal is shown with the key only.
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "app/settings.h"
#include "base/secrets.h"
#include "base/yaml_util.h"
#include "catalog/reference_data.h"
#include "rules/rules_config.h"
#include "webhook/config.h"

namespace smetsmon::app {
namespace {

// The directory holding areas.yaml and the rest when `config` names smetsmon.yaml itself.
std::string ConfigDirOf(const std::string& config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(config, ec)) return config;
  const std::string dir = std::filesystem::path(config).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Each librdkafka property of the `kafka:` section set on a fresh configuration object, as the
// client does at startup (ingest/kafka_source.cc): an unknown property or a refused value is an
// error naming the file, the key's line and the key.
void CheckKafkaProperties(const Settings& settings, std::vector<std::string>* errors) {
  YAML::Node kafka;
  if (!settings.settings_file.empty()) {
    if (auto root = yaml::LoadYamlFile(settings.settings_file); root.ok()) kafka = (*root)["kafka"];
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] : settings.kafka.properties) {
    char err[512] = {};
    const rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err);
    if (res == RD_KAFKA_CONF_OK) continue;
    // The key as written: the property itself or its _file/_env variant (a secret).
    YAML::Node at;
    std::string written = key;
    if (kafka && kafka.IsMap()) {
      for (const std::string& k : {key, key + "_file", key + "_env"}) {
        if (kafka[k]) {
          at = kafka[k];
          written = k;
          break;
        }
      }
    }
    const int line = at && !at.Mark().is_null() ? at.Mark().line + 1 : 0;
    const std::string what =
        res == RD_KAFKA_CONF_UNKNOWN
            ? std::string("is not a librdkafka property (nor one of smetsmon's kafka keys)")
            : absl::StrCat("has a value librdkafka refuses: ",
                           PropertyMessageWithoutValue(key, value, err));
    errors->push_back(
        absl::StrCat(settings.settings_file.empty() ? "kafka" : settings.settings_file, ":", line,
                     ": field 'kafka.", written, "': ", what));
  }
  rd_kafka_conf_destroy(conf);
}

// Every check `run` makes of its configuration before it connects or binds; the errors found.
std::vector<std::string> CheckConfiguration(const std::string& config) {
  std::vector<std::string> errors;
  const auto add = [&](const absl::Status& s) { errors.emplace_back(s.message()); };
  // 1. smetsmon.yaml: engine, kafka (own keys; secrets read), http, checkpoint, inventory.
  absl::StatusOr<Settings> settings = LoadSettings(config);
  if (!settings.ok()) {
    add(settings.status());
    if (settings.status().code() == absl::StatusCode::kNotFound) return errors;  // no such DIR
  }
  catalog::ReferenceOptions reference;
  if (settings.ok()) {
    reference = settings->reference;
  } else {
    reference.config_dir = ConfigDirOf(config);
  }
  // 2. The reference data (areas.yaml, alert_catalogue.yaml), each checked on its own so both
  // are reported; then with them rules.yaml, as the pipeline loads it (pipeline/pipeline.cc).
  auto areas = catalog::AreaTable::Load(reference.config_dir + "/areas.yaml");
  if (!areas.ok()) add(areas.status());
  auto catalogue = catalog::AlertCatalogue::Load(reference.config_dir + "/alert_catalogue.yaml");
  if (!catalogue.ok()) add(catalogue.status());
  if (areas.ok() && catalogue.ok()) {
    auto ref = catalog::LoadReferenceConfig(reference);
    if (!ref.ok()) {
      add(ref.status());
    } else {
      const std::string rules_path = reference.config_dir + "/rules.yaml";
      if (std::filesystem::exists(rules_path)) {
        if (auto rules = rules::LoadRulesConfig(rules_path, *ref); !rules.ok()) {
          add(rules.status());
        }
      }
    }
  }
  if (!settings.ok()) return errors;
  // 3. The inventory CSV, when configured: there and readable (not parsed: it may be large).
  if (!settings->inventory_path.empty()) {
    std::error_code ec;
    std::ifstream in(settings->inventory_path);
    if (!in || !std::filesystem::is_regular_file(settings->inventory_path, ec)) {
      errors.push_back(absl::StrCat(settings->settings_file,
                                    ": field 'inventory.path': cannot read ",
                                    settings->inventory_path));
    }
  }
  // 4. The webhooks section (receivers name areas; their secrets and CA files are read).
  if (areas.ok()) {
    if (auto webhooks =
            webhook::LoadWebhookConfig(settings->webhooks, settings->settings_file, *areas);
        !webhooks.ok()) {
      add(webhooks.status());
    }
  }
  // 5. The librdkafka properties.
  CheckKafkaProperties(*settings, &errors);
  return errors;
}

}  // namespace

int RunCheckConfig(int argc, char** argv) {
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc && config.empty()) {
      config = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::puts(
          "usage: smetsmon check-config [DIR|FILE]\n"
          "Loads and validates the configuration as `run` would (smetsmon.yaml, areas.yaml,\n"
          "alert_catalogue.yaml, rules.yaml, webhooks, librdkafka properties, secrets) without\n"
          "connecting or binding. Without DIR: ./config if it exists, else /etc/smetsmon.\n"
          "Exit 0: configuration OK; 2: each error printed as file:line: field: what.");
      return 0;
    } else if (!a.empty() && a[0] != '-' && config.empty()) {
      config = a;
    } else {
      std::fprintf(stderr, "smetsmon check-config: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (config.empty()) config = DefaultConfigDir();
  const std::vector<std::string> errors = CheckConfiguration(config);
  if (errors.empty()) {
    std::printf("configuration OK: %s\n", config.c_str());
    return 0;
  }
  for (const std::string& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
  std::fprintf(stderr, "smetsmon: configuration %s has %zu error(s)\n", config.c_str(),
               errors.size());
  return 2;
}

}  // namespace smetsmon::app
