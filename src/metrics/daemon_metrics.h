// The daemon's Prometheus "probe": a prometheus::Collectable that reads the engine's and the Kafka
// ingestion's single-writer counters at scrape time (nothing is incremented through shared
// atomics per event). Cardinality is bounded: labels come only from bounded sets (reason,
// window, partition).
//
// Thread-safety: Collect() may run on any thread concurrently with the workers.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "aggregate/engine.h"
#include "ingest/kafka_source.h"
#include "pipeline/pipeline.h"
#include "smetsmon/clock.h"

namespace smetsmon::metrics {

class DaemonMetrics final : public prometheus::Collectable {
 public:
  DaemonMetrics(const aggregate::Engine& engine, const ingest::KafkaIngest* kafka,
                const Clock& clock, const pipeline::Pipeline* pipeline = nullptr)
      : engine_(&engine), kafka_(kafka), clock_(&clock), pipeline_(pipeline) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  void AddAlertFamilies(EventTime stream, std::vector<prometheus::MetricFamily>* out) const;
  static void AddCheckpointFamilies(const pipeline::CheckpointStats& c,
                                    std::vector<prometheus::MetricFamily>* out);
  void AddKafkaClientFamilies(std::vector<prometheus::MetricFamily>* out) const;

  const aggregate::Engine* engine_;
  const ingest::KafkaIngest* kafka_;  // null when not reading Kafka
  const Clock* clock_;
  const pipeline::Pipeline* pipeline_;  // null: no pipeline families
};

// Text exposition format (version 0.0.4) of everything the collectables report (nulls skipped).
std::string RenderText(std::initializer_list<const prometheus::Collectable*> collectables);

}  // namespace smetsmon::metrics
