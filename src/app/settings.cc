#include "app/settings.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/log.h"
#include "base/yaml_util.h"
#include "smetsmon/status.h"

namespace smetsmon::app {

std::optional<int64_t> ParseDurationMs(const std::string& s) { return yaml::ParseDurationMs(s); }

namespace {

absl::Status ReadDuration(const std::string& file, const YAML::Node& map, const std::string& key,
                          int64_t* out) {
  return yaml::ReadDuration(file, map, key, out);
}

absl::Status ReadCount(const std::string& file, const YAML::Node& map, const std::string& key,
                       size_t min, size_t* out) {
  if (!map[key]) return absl::OkStatus();
  SMETSMON_ASSIGN_OR_RETURN(int64_t v, yaml::RequiredScalar<int64_t>(file, map, key));
  if (v < static_cast<int64_t>(min)) {
    return yaml::ConfigError(file, map[key], key, "must be at least " + std::to_string(min));
  }
  *out = static_cast<size_t>(v);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Settings> LoadSettings(const std::string& config) {
  Settings s;
  const bool is_file = std::filesystem::is_regular_file(config);
  const std::string config_dir =
      is_file ? std::filesystem::path(config).parent_path().string() : config;
  s.reference.config_dir = config_dir.empty() ? "." : config_dir;
  const std::string file = is_file ? config : config_dir + "/smetsmon.yaml";
  if (!std::filesystem::exists(file)) {
    if (is_file || std::filesystem::is_directory(config)) return s;
    return absl::NotFoundError(config + ": no such configuration file or directory");
  }
  SMETSMON_ASSIGN_OR_RETURN(YAML::Node root, yaml::LoadYamlFile(file));
  s.settings_file = file;
  if (root["webhooks"]) s.webhooks = root["webhooks"];
  if (const YAML::Node e = root["engine"]) {
    if (!e.IsMap()) return yaml::ConfigError(file, e, "engine", "must be a map");
    aggregate::EngineConfig& c = s.engine;
    SMETSMON_RETURN_IF_ERROR(
        ReadDuration(file, e, "allowed_lateness", &c.window.allowed_lateness_ms));
    SMETSMON_RETURN_IF_ERROR(ReadDuration(file, e, "idle_lag", &c.idle_lag_ms));
    SMETSMON_RETURN_IF_ERROR(ReadDuration(file, e, "dedup_horizon", &c.dedup_horizon_ms));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "dedup_capacity", 4, &c.dedup_capacity));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "expected_devices", 1, &c.expected_devices));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "max_dmcs", 1, &s.reference.max_dmcs));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "max_cohorts", 1, &s.reference.max_cohorts));
    if (s.reference.max_dmcs > 60000 || s.reference.max_cohorts > 60000) {
      return yaml::ConfigError(file, e, "max_dmcs", "and max_cohorts must be at most 60000");
    }
  }
  if (const YAML::Node k = root["kafka"]) {
    if (!k.IsMap()) return yaml::ConfigError(file, k, "kafka", "must be a map");
    for (const auto& kv : k) {
      const std::string key = kv.first.as<std::string>();
      if (!kv.second.IsScalar()) {
        return yaml::ConfigError(file, kv.second, "kafka." + key, "must be a scalar");
      }
      const std::string value = kv.second.Scalar();
      if (key == "topic") {
        s.kafka.topic = value;
      } else if (key == "dead_letter_topic") {
        s.kafka.dead_letter_topic = value;
      } else if (key == "max_partition_skew") {
        SMETSMON_RETURN_IF_ERROR(ReadDuration(file, k, key, &s.kafka.max_partition_skew_ms));
      } else if (key == "batch_size" || key == "max_inflight_batches") {
        size_t n = 0;
        SMETSMON_RETURN_IF_ERROR(ReadCount(file, k, key, 1, &n));
        (key == "batch_size" ? s.kafka.batch_size : s.kafka.max_inflight_batches) = n;
      } else {
        s.kafka.properties[key] = value;  // a librdkafka property, checked when the client starts
      }
    }
  }
  if (const YAML::Node h = root["http"]) {
    SMETSMON_ASSIGN_OR_RETURN(s.http_listen,
                              yaml::OptionalScalar<std::string>(file, h, "listen", s.http_listen));
    // The API's bearer token: from a file or an environment variable, never inline.
    SMETSMON_ASSIGN_OR_RETURN(std::string token_file,
                              yaml::OptionalScalar<std::string>(file, h, "bearer_token_file", ""));
    SMETSMON_ASSIGN_OR_RETURN(std::string token_env,
                              yaml::OptionalScalar<std::string>(file, h, "bearer_token_env", ""));
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      std::string token;
      if (!in || !std::getline(in, token) || token.empty()) {
        return yaml::ConfigError(file, h["bearer_token_file"], "bearer_token_file",
                                 "cannot read a token from " + token_file);
      }
      s.http_bearer_token = token;
    } else if (!token_env.empty()) {
      const char* v = std::getenv(token_env.c_str());
      if (v == nullptr || *v == 0) {
        return yaml::ConfigError(file, h["bearer_token_env"], "bearer_token_env",
                                 "environment variable " + token_env + " is not set");
      }
      s.http_bearer_token = v;
    }
  }
  if (const YAML::Node inv = root["inventory"]) {
    SMETSMON_ASSIGN_OR_RETURN(s.inventory_path,
                              yaml::OptionalScalar<std::string>(file, inv, "path", ""));
  }
  if (const YAML::Node sn = root["snapshot"]) {
    SMETSMON_ASSIGN_OR_RETURN(s.checkpoint_path,
                              yaml::OptionalScalar<std::string>(file, sn, "path", ""));
    if (!s.checkpoint_path.empty()) {
      Log(LogLevel::kWarn, "snapshot.path is now checkpoint.path: please rename it",
          {{"file", file}, {"path", s.checkpoint_path}});
    }
  }
  if (const YAML::Node cp = root["checkpoint"]) {
    if (root["snapshot"]) {
      return yaml::ConfigError(file, root["snapshot"], "snapshot",
                               "give checkpoint.path only (snapshot.path is its older name)");
    }
    SMETSMON_ASSIGN_OR_RETURN(s.checkpoint_path,
                              yaml::OptionalScalar<std::string>(file, cp, "path", ""));
    SMETSMON_RETURN_IF_ERROR(ReadDuration(file, cp, "interval", &s.checkpoint_interval_ms));
    if (s.checkpoint_interval_ms < 100) {
      return yaml::ConfigError(file, cp["interval"], "interval", "must be at least 100ms");
    }
  }
  if (const YAML::Node e = root["engine"]; e && e["workers"]) {
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "workers", 1, &s.engine.workers));
    if (s.engine.workers > aggregate::kVirtualShards) {
      return yaml::ConfigError(file, e["workers"], "workers",
                               "must be at most " + std::to_string(aggregate::kVirtualShards));
    }
  }
  return s;
}

}  // namespace smetsmon::app
