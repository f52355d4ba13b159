// Process settings from smetsmon.yaml (configuration lane: a bad value fails startup with file,
// line and field). Durations are written "90s", "5m", "1h", "2d" or milliseconds.
// `--config` may name the directory holding smetsmon.yaml, areas.yaml and alert_catalogue.yaml,
// or the smetsmon.yaml file itself (its directory then holds the other two).
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "absl/status/statusor.h"
#include "aggregate/worker.h"
#include "catalog/reference_data.h"
#include "http/server.h"
#include "ingest/kafka_source.h"

namespace smetsmon::app {

struct Settings {
  catalog::ReferenceOptions reference;
  aggregate::EngineConfig engine;
  ingest::KafkaConfig kafka;  // `kafka:` section: our keys plus any librdkafka property
  std::string http_listen = "127.0.0.1:9477";
  // `http.bearer_token_file`, `http.bearer_token_env` or (warned about) `http.bearer_token`;
  // non-empty: /api/v1/* requires "Authorization: Bearer <it>".
  std::string http_bearer_token;
  bool http_metrics_require_token = false;  // /metrics needs the bearer token too
  // A listen address other than loopback without a bearer token needs this (CheckHttpExposure).
  bool http_allow_unauthenticated = false;
  http::ServerOptions http_server;  // limits, timeouts and the per-client rate limit
  // `checkpoint: {path, interval}`: the state with the Kafka offsets it reflects, restored at
  // start, written every interval and at stop (pipeline/checkpoint.h). Empty path: none (the
  // state then lives only in memory, and offsets are committed as batches are applied).
  // `snapshot: {path}` is the older name of checkpoint.path.
  std::string checkpoint_path;
  int64_t checkpoint_interval_ms = 30'000;
  std::string inventory_path;  // the device inventory CSV (contract format); empty: none
  // The `webhooks:` section, parsed by the daemon once the area table is loaded (receivers name
  // areas); `settings_file` names the file in its errors.
  YAML::Node webhooks;
  std::string settings_file;
};

// Reads smetsmon.yaml from `config` (a directory or the file); defaults when a directory has none.
absl::StatusOr<Settings> LoadSettings(const std::string& config);

// Where the configuration is when no --config is given: ./config if that directory exists (a
// checkout, the demo), else /etc/smetsmon (the package's).
std::string DefaultConfigDir();

// A non-loopback `http_listen` without a bearer token is refused unless
// `http_allow_unauthenticated`; so is `http_metrics_require_token` without a token.
absl::Status CheckHttpExposure(const Settings& s);

// "5m" -> 300000. Nullopt when malformed.
std::optional<int64_t> ParseDurationMs(const std::string& s);

}  // namespace smetsmon::app
