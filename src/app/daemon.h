// The daemon: the pipeline (engine, workers, rules; pipeline/pipeline.h) with Kafka as its source,
// the findings' outputs, metrics and HTTP, and the function that runs them until SIGINT/SIGTERM
// (or a hook) stops ingestion: drain, commit, snapshot, close.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "aggregate/engine.h"
#include "app/settings.h"
#include "catalog/alert_catalogue.h"
#include "ingest/kafka_source.h"
#include "metrics/config_metrics.h"
#include "metrics/daemon_metrics.h"
#include "metrics/http_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/rules_metrics.h"
#include "metrics/webhook_metrics.h"
#include "pipeline/pipeline.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"
#include "webhook/alertmanager_sink.h"
#include "webhook/dispatcher.h"

namespace smetsmon::app {

struct Daemon {
  std::unique_ptr<pipeline::Pipeline> pipeline;
  aggregate::Engine* engine = nullptr;    // the pipeline's
  rules::Evaluator* evaluator = nullptr;  // the pipeline's; null when rules are off
  std::unique_ptr<ingest::KafkaIngest> ingest;
  std::unique_ptr<metrics::DaemonMetrics> metrics;
  std::unique_ptr<metrics::RulesMetrics> rules_metrics;  // null when rules are off
  // Outputs of the findings (null when not configured, or rules are off).
  std::unique_ptr<webhook::Dispatcher> webhooks;
  std::unique_ptr<webhook::AlertmanagerSink> alertmanager;
  std::unique_ptr<metrics::WebhookMetrics> webhook_metrics;
  metrics::ProcessMetrics process_metrics;
  metrics::ConfigMetrics config_metrics;
  // The alert catalogue as last (re)loaded, in the engine's slots (names, priorities and the rest)
  // with each slot's delivery class, for the API. Swapped by a reload on the rules thread, read on
  // the io thread: through config_view()/set_config_view().
  struct ConfigView {
    std::shared_ptr<const catalog::AlertCatalogue> catalogue;
    std::vector<uint8_t> class_of_slot;  // empty when rules are off
    std::vector<std::string> class_names;
  };
  std::shared_ptr<const ConfigView> config_view() const {
    std::lock_guard lock(config_mu_);
    return config_view_;
  }
  void set_config_view(std::shared_ptr<const ConfigView> v) {
    std::lock_guard lock(config_mu_);
    config_view_ = std::move(v);
  }
  int64_t ready_max_lag_messages = 10000;
  // Wall-clock time for what the API stamps (a Go/No-Go override's recorded_at); null: the
  // system clock.
  const Clock* clock = nullptr;
  bool metrics_require_token = false;                  // /metrics needs the bearer token too
  std::unique_ptr<metrics::HttpMetrics> http_metrics;  // the HTTP server's refusals; null in tests
  std::string bearer_token;  // non-empty: required on /api/v1/*  // /readyz: assigned and within
                             // this many messages

 private:
  mutable std::mutex config_mu_;
  std::shared_ptr<const ConfigView> config_view_;
};

struct DaemonHooks {
  const Clock* clock = nullptr;  // null: the system clock
  // Called once the HTTP port is bound and ingestion is about to start (tests, the demo).
  std::function<void(Daemon&, uint16_t http_port)> on_started;
  // How often the Alertmanager sink is given the rules' last state (processing time).
  int64_t outputs_interval_ms = 1000;
};

absl::Status RunDaemon(const Settings& settings, const DaemonHooks& hooks);

}  // namespace smetsmon::app
