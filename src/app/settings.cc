#include "app/settings.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <librdkafka/rdkafka.h>

#include "absl/strings/match.h"
#include "base/log.h"
#include "base/secrets.h"
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

// `<property>_file` or `<property>_env`: where a Kafka property's (secret) value comes from.
// Returns the property's name when it is a secret one (base/secrets.h), "" for any other key
// (our own keys such as dead_letter_file among them).
std::string SecretSourceOf(const std::string& key) {
  std::string property;
  if (absl::EndsWith(key, "_file")) property = key.substr(0, key.size() - 5);
  if (absl::EndsWith(key, "_env")) property = key.substr(0, key.size() - 4);
  return IsSecretKey(property) ? property : "";
}

// The keys each mapping of smetsmon.yaml allows (the `webhooks:` section's are checked by
// webhook::LoadWebhookConfig).
constexpr std::string_view kTopKeys[] = {"engine",   "kafka",      "http",    "inventory",
                                         "snapshot", "checkpoint", "webhooks"};
constexpr std::string_view kEngineKeys[] = {
    "allowed_lateness", "idle_lag",    "dedup_horizon",       "dedup_capacity",
    "expected_devices", "max_devices", "max_throttled_count", "max_dmcs",
    "max_cohorts",      "workers"};
// smetsmon's own keys of `kafka:`; the section's other keys are librdkafka properties (below).
constexpr std::string_view kKafkaKeys[] = {
    "topic",          "dead_letter_topic",        "dead_letter_file", "dead_letter_flush",
    "merge_max_wait", "merge_max_buffered_bytes", "batch_size",       "max_inflight_batches"};
constexpr std::string_view kHttpKeys[] = {"listen",
                                          "bearer_token_file",
                                          "bearer_token_env",
                                          "bearer_token",
                                          "metrics_require_token",
                                          "allow_unauthenticated",
                                          "max_connections",
                                          "header_limit_bytes",
                                          "body_limit_bytes",
                                          "read_timeout",
                                          "write_timeout",
                                          "idle_timeout",
                                          "answer_timeout",
                                          "rate_limit"};
constexpr std::string_view kRateLimitKeys[] = {"per_second", "burst", "max_clients"};
constexpr std::string_view kPathKeys[] = {"path"};
constexpr std::string_view kCheckpointKeys[] = {"path", "interval"};

// Whether librdkafka has a (global or topic) property of this name. Only reads a fresh
// configuration object: no value is set, nothing is loaded.
bool IsLibrdkafkaProperty(const std::string& name) {
  size_t size = 0;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_topic_conf_t* topic_conf = rd_kafka_topic_conf_new();
  const bool known =
      rd_kafka_conf_get(conf, name.c_str(), nullptr, &size) != RD_KAFKA_CONF_UNKNOWN ||
      rd_kafka_topic_conf_get(topic_conf, name.c_str(), nullptr, &size) != RD_KAFKA_CONF_UNKNOWN;
  rd_kafka_topic_conf_destroy(topic_conf);
  rd_kafka_conf_destroy(conf);
  return known;
}

}  // namespace

absl::Status CheckHttpExposure(const Settings& s) {
  if (s.http_bearer_token.empty() && s.http_metrics_require_token) {
    return absl::InvalidArgumentError(
        "http.metrics_require_token needs a bearer token (http.bearer_token_file or "
        "http.bearer_token_env)");
  }
  if (s.http_bearer_token.empty() && !s.http_allow_unauthenticated &&
      !http::IsLoopbackListen(s.http_listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http.listen ", s.http_listen,
        " is reachable from other hosts but no bearer token is configured: set "
        "http.bearer_token_file (or http.bearer_token_env), listen on 127.0.0.1, or set "
        "http.allow_unauthenticated: true to serve the API to anyone who can connect"));
  }
  return absl::OkStatus();
}

// The loader's body; LoadSettings turns a yaml-cpp exception escaping it into a Status.
static absl::StatusOr<Settings> LoadSettingsUnguarded(const std::string& config) {
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
  SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, root, "", kTopKeys));
  if (root["webhooks"]) s.webhooks = root["webhooks"];
  if (const YAML::Node e = root["engine"]) {
    if (!e.IsMap()) return yaml::ConfigError(file, e, "engine", "must be a map");
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, e, "engine", kEngineKeys));
    aggregate::EngineConfig& c = s.engine;
    SMETSMON_RETURN_IF_ERROR(
        ReadDuration(file, e, "allowed_lateness", &c.window.allowed_lateness_ms));
    SMETSMON_RETURN_IF_ERROR(ReadDuration(file, e, "idle_lag", &c.idle_lag_ms));
    SMETSMON_RETURN_IF_ERROR(ReadDuration(file, e, "dedup_horizon", &c.dedup_horizon_ms));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "dedup_capacity", 4, &c.dedup_capacity));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "expected_devices", 1, &c.expected_devices));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "max_devices", 1, &c.max_devices));
    size_t max_throttled = c.max_throttled_count;
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, e, "max_throttled_count", 1, &max_throttled));
    // A window cell is 32-bit and saturates (window/bucket_ring.h); 4294 messages at the default
    // bound fill one, so the bound stays far below the cell.
    if (max_throttled > 0xFFFFFFFFu) {
      return yaml::ConfigError(file, e["max_throttled_count"], "max_throttled_count",
                               "must be at most 4294967295");
    }
    c.max_throttled_count = static_cast<uint32_t>(max_throttled);
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
      } else if (key == "dead_letter_file") {
        s.kafka.dead_letter_file = value;
      } else if (key == "dead_letter_flush") {
        SMETSMON_RETURN_IF_ERROR(ReadDuration(file, k, key, &s.kafka.dead_letter_flush_ms));
      } else if (key == "merge_max_wait") {
        SMETSMON_RETURN_IF_ERROR(ReadDuration(file, k, key, &s.kafka.merge_max_wait_ms));
      } else if (key == "batch_size" || key == "max_inflight_batches" ||
                 key == "merge_max_buffered_bytes") {
        size_t n = 0;
        SMETSMON_RETURN_IF_ERROR(ReadCount(file, k, key, 1, &n));
        (key == "batch_size"             ? s.kafka.batch_size
         : key == "max_inflight_batches" ? s.kafka.max_inflight_batches
                                         : s.kafka.merge_max_buffered_bytes) = n;
      } else if (!SecretSourceOf(key).empty()) {
        continue;  // below, once every inline key is known
      } else if (key.find('.') == std::string::npos && !IsLibrdkafkaProperty(key)) {
        // A dotted key is a librdkafka property whichever it is: librdkafka refuses an unknown
        // one when the client is configured (and `smetsmon check-config` tries each). An
        // undotted one is ours (a typo of topic, batch_size, ...) unless librdkafka has it
        // (debug, log_level, acks, ...).
        return yaml::UnknownKeyError(file, kv.first, "kafka", kKafkaKeys);
      } else {
        if (IsSecretKey(key)) {
          Log(LogLevel::kWarn,
              "an inline secret in the configuration: prefer its _file or _env variant",
              {{"file", file}, {"key", "kafka." + key}});
        }
        s.kafka.properties[key] = value;  // a librdkafka property, checked when the client starts
      }
    }
    // `sasl.password_file: PATH` / `sasl.password_env: NAME` (any property): its value read now.
    for (const auto& kv : k) {
      const std::string key = kv.first.as<std::string>();
      const std::string property = SecretSourceOf(key);
      if (property.empty()) continue;
      const bool from_file = absl::EndsWith(key, "_file");
      if (s.kafka.properties.count(property) || k[property + (from_file ? "_env" : "_file")]) {
        return yaml::ConfigError(
            file, kv.second, "kafka." + key,
            absl::StrCat("give one of ", property, ", ", property, "_file and ", property, "_env"));
      }
      const absl::StatusOr<std::string> secret =
          from_file ? ReadSecretFile(kv.second.Scalar()) : ReadSecretEnv(kv.second.Scalar());
      if (!secret.ok()) {
        return yaml::ConfigError(file, kv.second, "kafka." + key,
                                 std::string(secret.status().message()));
      }
      s.kafka.properties[property] = *secret;
    }
  }
  if (const YAML::Node h = root["http"]) {
    if (!h.IsMap()) return yaml::ConfigError(file, h, "http", "must be a map");
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, h, "http", kHttpKeys));
    SMETSMON_ASSIGN_OR_RETURN(s.http_listen,
                              yaml::OptionalScalar<std::string>(file, h, "listen", s.http_listen));
    // The API's bearer token: from a file or an environment variable; inline is warned about.
    SMETSMON_ASSIGN_OR_RETURN(std::string token_file,
                              yaml::OptionalScalar<std::string>(file, h, "bearer_token_file", ""));
    SMETSMON_ASSIGN_OR_RETURN(std::string token_env,
                              yaml::OptionalScalar<std::string>(file, h, "bearer_token_env", ""));
    SMETSMON_ASSIGN_OR_RETURN(std::string token_inline,
                              yaml::OptionalScalar<std::string>(file, h, "bearer_token", ""));
    if (int(!token_file.empty()) + int(!token_env.empty()) + int(!token_inline.empty()) > 1) {
      return yaml::ConfigError(file, h, "bearer_token",
                               "give one of bearer_token, bearer_token_file and bearer_token_env");
    }
    if (!token_file.empty()) {
      const absl::StatusOr<std::string> token = ReadSecretFile(token_file);
      if (!token.ok()) {
        return yaml::ConfigError(file, h["bearer_token_file"], "bearer_token_file",
                                 std::string(token.status().message()));
      }
      s.http_bearer_token = *token;
    } else if (!token_env.empty()) {
      const absl::StatusOr<std::string> token = ReadSecretEnv(token_env);
      if (!token.ok()) {
        return yaml::ConfigError(file, h["bearer_token_env"], "bearer_token_env",
                                 std::string(token.status().message()));
      }
      s.http_bearer_token = *token;
    } else if (!token_inline.empty()) {
      Log(LogLevel::kWarn,
          "an inline secret in the configuration: prefer its _file or _env variant",
          {{"file", file}, {"key", "http.bearer_token"}});
      s.http_bearer_token = token_inline;
    }
    SMETSMON_ASSIGN_OR_RETURN(s.http_metrics_require_token,
                              yaml::OptionalScalar<bool>(file, h, "metrics_require_token", false));
    SMETSMON_ASSIGN_OR_RETURN(s.http_allow_unauthenticated,
                              yaml::OptionalScalar<bool>(file, h, "allow_unauthenticated", false));
    http::ServerOptions& o = s.http_server;
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, h, "max_connections", 1, &o.max_connections));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, h, "header_limit_bytes", 1024, &o.header_limit_bytes));
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, h, "body_limit_bytes", 1024, &o.body_limit_bytes));
    if (o.header_limit_bytes > (size_t{1} << 30)) {
      return yaml::ConfigError(file, h["header_limit_bytes"], "header_limit_bytes",
                               "must be at most 1 GiB");
    }
    for (auto [key, out] : {std::pair{"read_timeout", &o.read_timeout_ms},
                            std::pair{"write_timeout", &o.write_timeout_ms},
                            std::pair{"idle_timeout", &o.idle_timeout_ms},
                            std::pair{"answer_timeout", &o.answer_timeout_ms}}) {
      SMETSMON_RETURN_IF_ERROR(ReadDuration(file, h, key, out));
      if (*out < 1) return yaml::ConfigError(file, h[key], key, "must be positive");
    }
    if (const YAML::Node rl = h["rate_limit"]) {
      if (!rl.IsMap()) return yaml::ConfigError(file, rl, "rate_limit", "must be a map");
      SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, rl, "http.rate_limit", kRateLimitKeys));
      SMETSMON_ASSIGN_OR_RETURN(o.rate_per_s,
                                yaml::OptionalScalar<double>(file, rl, "per_second", o.rate_per_s));
      SMETSMON_ASSIGN_OR_RETURN(o.rate_burst,
                                yaml::OptionalScalar<double>(file, rl, "burst", o.rate_burst));
      SMETSMON_RETURN_IF_ERROR(ReadCount(file, rl, "max_clients", 1, &o.rate_max_clients));
      if (!(o.rate_per_s >= 0) || (o.rate_per_s > 0 && !(o.rate_burst >= 1))) {
        return yaml::ConfigError(file, rl, "rate_limit",
                                 "per_second must be >= 0 (0: off) and burst >= 1");
      }
    }
  }
  SMETSMON_RETURN_IF_ERROR(CheckHttpExposure(s));
  if (const YAML::Node inv = root["inventory"]) {
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, inv, "inventory", kPathKeys));
    SMETSMON_ASSIGN_OR_RETURN(s.inventory_path,
                              yaml::OptionalScalar<std::string>(file, inv, "path", ""));
  }
  if (const YAML::Node sn = root["snapshot"]) {
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, sn, "snapshot", kPathKeys));
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
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, cp, "checkpoint", kCheckpointKeys));
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

absl::StatusOr<Settings> LoadSettings(const std::string& config) {
  return yaml::GuardYaml(config, [&] { return LoadSettingsUnguarded(config); });
}

std::string DefaultConfigDir() {
  std::error_code ec;
  if (std::filesystem::is_directory("config", ec)) return "config";
  return "/etc/smetsmon";
}

}  // namespace smetsmon::app
