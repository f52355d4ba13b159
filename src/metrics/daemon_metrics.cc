#include "metrics/daemon_metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "metrics/family.h"

namespace smetsmon::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

}  // namespace

std::vector<MetricFamily> DaemonMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const aggregate::CounterTotals c = engine_->Counters();
  auto accepted =
      Family("smetsmon_events_accepted_total",
             "Valid alert messages applied to state (duplicates excluded).", MetricType::Counter);
  Add(accepted, static_cast<double>(c.accepted));
  out.push_back(std::move(accepted));
  auto dup =
      Family("smetsmon_events_duplicate_total",
             "Messages whose alert_id was seen within the dedup horizon.", MetricType::Counter);
  Add(dup, static_cast<double>(c.duplicates));
  out.push_back(std::move(dup));
  auto rejected = Family("smetsmon_events_rejected_total",
                         "Invalid messages by reason (kept whole in the dead-letter sink).",
                         MetricType::Counter);
  for (int i = 1; i < kRejectReasonCount; ++i) {
    Add(rejected, static_cast<double>(c.rejected[i]),
        {{"reason", std::string(kRejectReasonNames[static_cast<size_t>(i)])}});
  }
  out.push_back(std::move(rejected));
  auto late =
      Family("smetsmon_events_late_total",
             "Alerts too old for a window level, counted and kept out of it.", MetricType::Counter);
  Add(late, static_cast<double>(c.late_1h), {{"window", "1h"}});
  Add(late, static_cast<double>(c.late_24h), {{"window", "24h"}});
  out.push_back(std::move(late));
  auto devices = Family("smetsmon_devices", "Devices with state.", MetricType::Gauge);
  Add(devices, static_cast<double>(c.devices));
  out.push_back(std::move(devices));
  auto evictions = Family("smetsmon_dedup_evictions_total",
                          "Live alert ids evicted from a full dedup set (capacity too small).",
                          MetricType::Counter);
  Add(evictions, static_cast<double>(c.dedup_evictions));
  out.push_back(std::move(evictions));
  const EventTime stream = engine_->StreamTime();
  auto stream_time = Family("smetsmon_stream_time_seconds",
                            "Largest event time seen (Unix seconds).", MetricType::Gauge);
  Add(stream_time, stream == EventTime::Min() ? 0.0 : static_cast<double>(stream.ms) / 1000.0);
  out.push_back(std::move(stream_time));

  if (kafka_ != nullptr) {
    const ingest::KafkaStats s = kafka_->stats();
    auto consumed = Family("smetsmon_kafka_consumed_messages_total", "Messages taken from Kafka.",
                           MetricType::Counter);
    Add(consumed, static_cast<double>(s.consumed));
    out.push_back(std::move(consumed));
    auto applied = Family("smetsmon_kafka_applied_messages_total",
                          "Messages applied by every worker (their offsets may be committed).",
                          MetricType::Counter);
    Add(applied, static_cast<double>(s.applied));
    out.push_back(std::move(applied));
    auto dlq = Family("smetsmon_kafka_dead_letter_messages_total",
                      "Invalid messages produced to the dead-letter topic.", MetricType::Counter);
    Add(dlq, static_cast<double>(s.dead_lettered));
    out.push_back(std::move(dlq));
    auto rebalances = Family("smetsmon_kafka_rebalances_total",
                             "Partition assignments and revokes.", MetricType::Counter);
    Add(rebalances, static_cast<double>(s.rebalances));
    out.push_back(std::move(rebalances));
    auto paused = Family("smetsmon_kafka_fetch_paused_total",
                         "Times fetching paused because workers were behind.", MetricType::Counter);
    Add(paused, static_cast<double>(s.paused));
    out.push_back(std::move(paused));
    auto assigned = Family("smetsmon_kafka_assigned_partitions", "Partitions this instance owns.",
                           MetricType::Gauge);
    Add(assigned, static_cast<double>(s.assigned_partitions));
    out.push_back(std::move(assigned));
    auto lag_messages =
        Family("smetsmon_kafka_consumer_lag_messages",
               "High watermark minus consumed position, per partition.", MetricType::Gauge);
    auto lag_seconds = Family("smetsmon_kafka_consumer_lag_seconds",
                              "Now minus the event time of the last event consumed, per partition.",
                              MetricType::Gauge);
    for (const ingest::PartitionLag& l : kafka_->Lag(clock_->Now())) {
      const std::vector<ClientMetric::Label> label = {{"partition", std::to_string(l.partition)}};
      Add(lag_messages, static_cast<double>(l.messages), label);
      Add(lag_seconds, l.seconds, label);
    }
    out.push_back(std::move(lag_messages));
    out.push_back(std::move(lag_seconds));
  }
  return out;
}

std::string RenderText(std::initializer_list<const prometheus::Collectable*> collectables) {
  std::vector<MetricFamily> families;
  for (const prometheus::Collectable* c : collectables) {
    if (c == nullptr) continue;
    auto part = c->Collect();
    families.insert(families.end(), std::make_move_iterator(part.begin()),
                    std::make_move_iterator(part.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace smetsmon::metrics
