// The daemon's parts wired together (engine, Kafka ingestion, metrics, HTTP) and the function that
// runs them until SIGINT/SIGTERM (or a hook) stops ingestion: drain, commit, snapshot, close.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "aggregate/engine.h"
#include "app/settings.h"
#include "catalog/alert_catalogue.h"
#include "ingest/kafka_source.h"
#include "metrics/config_metrics.h"
#include "metrics/daemon_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/rules_metrics.h"
#include "metrics/webhook_metrics.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"
#include "webhook/alertmanager_sink.h"
#include "webhook/dispatcher.h"

namespace smetsmon::app {

struct Daemon {
  // Rules (config/rules.yaml next to the settings): null when the file is absent.
  std::unique_ptr<rules::RulesConfig> rules_config;
  std::unique_ptr<aggregate::RuleInputsSetup> rule_inputs;
  std::unique_ptr<aggregate::Engine> engine;
  std::unique_ptr<rules::Evaluator> evaluator;
  std::unique_ptr<ingest::KafkaIngest> ingest;
  std::unique_ptr<metrics::DaemonMetrics> metrics;
  std::unique_ptr<metrics::RulesMetrics> rules_metrics;  // null when rules are off
  // Outputs of the findings (null when not configured, or rules are off).
  std::unique_ptr<webhook::Dispatcher> webhooks;
  std::unique_ptr<webhook::AlertmanagerSink> alertmanager;
  std::unique_ptr<metrics::WebhookMetrics> webhook_metrics;
  metrics::ProcessMetrics process_metrics;
  metrics::ConfigMetrics config_metrics;
  // The alert catalogue as last (re)loaded, in the engine's slots: names, priorities and the
  // rest for the API. Read and swapped on the io thread only (see app/reload.h).
  std::shared_ptr<const catalog::AlertCatalogue> catalogue;
  int64_t ready_max_lag_messages = 10000;
  std::string bearer_token;  // non-empty: required on /api/v1/*  // /readyz: assigned and within
                             // this many messages
};

struct DaemonHooks {
  const Clock* clock = nullptr;  // null: the system clock
  // Called once the HTTP port is bound and ingestion is about to start (tests, the demo).
  std::function<void(Daemon&, uint16_t http_port)> on_started;
  // How often the rules are evaluated (processing time; they evaluate at the stream time).
  int64_t rules_interval_ms = 5000;
};

absl::Status RunDaemon(const Settings& settings, const DaemonHooks& hooks);

}  // namespace smetsmon::app
