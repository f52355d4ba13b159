#include "metrics/daemon_metrics.h"

#include <limits>

#include <prometheus/text_serializer.h>

#include <sstream>

#include "metrics/family.h"

namespace smetsmon::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

}  // namespace

void DaemonMetrics::AddAlertFamilies(EventTime stream, std::vector<MetricFamily>* out) const {
  // Alerts per area x category x generation: the cumulative count (for rate() and sums across
  // instances) and the sliding 1 h / 24 h windows ending at the stream time (event time, the
  // numbers the API and a replay give). Every combination is exported, zeros included, so a
  // dashboard's series never vanish; the set is bounded by the area table and the catalogue.
  const aggregate::FleetLayout& l = engine_->layout();
  const catalog::AreaTable& areas = l.areas();
  const std::vector<std::string>& categories = l.catalogue().categories();
  const size_t cells = l.area_slots() * categories.size() * 2;
  auto fold = [&](const std::vector<uint64_t>& main) {
    std::vector<uint64_t> folded(cells, 0);
    for (size_t a = 0; a < l.area_slots(); ++a) {
      for (size_t c = 0; c < l.code_slots(); ++c) {
        for (size_t g = 0; g < 2; ++g) {
          const Generation gen = g == 0 ? Generation::kSmets1 : Generation::kSmets2;
          folded[(a * categories.size() + l.CategoryOfSlot(c)) * 2 + g] +=
              main[l.MainCell(a, c, gen)];
        }
      }
    }
    return folded;
  };
  // The area as every other family labels it (its name in areas.yaml), and its DNO group: one
  // group per area, so the label adds no series and lets a dashboard pick a DNO's areas.
  std::vector<std::string> area_names, dno_groups;
  for (size_t a = 0; a < l.area_slots(); ++a) {
    const AreaId id = areas.FromSlot(a);
    area_names.push_back(id == kUnknownArea ? "unknown" : areas.area(id).name);
    dno_groups.push_back(id == kUnknownArea ? "unknown" : areas.area(id).dno_group);
  }
  auto emit = [&](MetricFamily& f, const std::vector<uint64_t>& folded,
                  const std::vector<ClientMetric::Label>& extra) {
    for (size_t a = 0; a < l.area_slots(); ++a) {
      for (size_t k = 0; k < categories.size(); ++k) {
        for (size_t g = 0; g < 2; ++g) {
          std::vector<ClientMetric::Label> labels = {{"area", area_names[a]},
                                                     {"dno_group", dno_groups[a]},
                                                     {"category", categories[k]},
                                                     {"generation", g == 0 ? "smets1" : "smets2"}};
          labels.insert(labels.end(), extra.begin(), extra.end());
          Add(f, static_cast<double>(folded[(a * categories.size() + k) * 2 + g]),
              std::move(labels));
        }
      }
    }
  };
  auto total = Family("smetsmon_alerts_total",
                      "Alerts accepted (weighted by throttled_count) by area, category and "
                      "generation.",
                      MetricType::Counter);
  emit(total, fold(engine_->Totals()), {});
  out->push_back(std::move(total));
  auto window = Family("smetsmon_window_alerts",
                       "Alerts in the sliding event-time window (1h or 24h) ending at the stream "
                       "time, by area, category and generation.",
                       MetricType::Gauge);
  if (stream != EventTime::Min()) {
    for (aggregate::View v : {aggregate::View::k1h, aggregate::View::k24h}) {
      emit(window, fold(engine_->View(v, stream)), {{"window", aggregate::ViewName(v)}});
    }
  }
  out->push_back(std::move(window));
}

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
  AddScalar(out, "smetsmon_devices", "Devices with state.", MetricType::Gauge,
            static_cast<double>(c.devices));
  AddScalar(out, "smetsmon_devices_refused_total",
            "Alerts of new devices given no device state: the device table was at "
            "engine.max_devices (the alerts still count in the fleet windows).",
            MetricType::Counter, static_cast<double>(c.devices_refused));
  AddScalar(out, "smetsmon_dedup_evictions_total",
            "Live alert ids evicted from a full dedup set (capacity too small).",
            MetricType::Counter, static_cast<double>(c.dedup_evictions));
  AddScalar(out, "smetsmon_window_cell_saturations_total",
            "Adds to a window cell clipped at its 32-bit ceiling (hostile counts).",
            MetricType::Counter, static_cast<double>(c.cell_saturations));
  const EventTime stream = engine_->StreamTime();
  AddScalar(out, "smetsmon_stream_time_seconds", "Largest event time seen (Unix seconds).",
            MetricType::Gauge,
            stream == EventTime::Min() ? 0.0 : static_cast<double>(stream.ms) / 1000.0);
  AddAlertFamilies(stream, &out);

  if (pipeline_ != nullptr) {
    const pipeline::PipelineStats p = pipeline_->stats();
    auto depth = Family("smetsmon_pipeline_queue_depth",
                        "Messages queued for a worker, not yet applied.", MetricType::Gauge);
    auto busy = Family("smetsmon_pipeline_worker_busy_seconds_total",
                       "Time a worker spent decoding, applying and taking readings; its rate is "
                       "the share of time the worker is busy.",
                       MetricType::Counter);
    for (size_t w = 0; w < p.queue_depth.size(); ++w) {
      const std::vector<ClientMetric::Label> label = {{"worker", std::to_string(w)}};
      Add(depth, static_cast<double>(p.queue_depth[w]), label);
      Add(busy, p.busy_seconds[w], label);
    }
    out.push_back(std::move(depth));
    out.push_back(std::move(busy));
    auto latency =
        Family("smetsmon_pipeline_batch_apply_seconds",
               "From a batch's submission to its last message applied.", MetricType::Histogram);
    ClientMetric h;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < p.latency_counts.size(); ++b) {
      cumulative += p.latency_counts[b];
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = b < p.latency_bounds_s.size() ? p.latency_bounds_s[b]
                                                         : std::numeric_limits<double>::infinity();
      h.histogram.bucket.push_back(bucket);
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = p.latency_sum_s;
    latency.metric.push_back(std::move(h));
    out.push_back(std::move(latency));
    AddScalar(out, "smetsmon_pipeline_batches_total", "Batches submitted by the source.",
              MetricType::Counter, static_cast<double>(p.batches_submitted));
    AddScalar(out, "smetsmon_pipeline_router_fallbacks_total",
              "Messages the router's scan could not read, decoded by the router.",
              MetricType::Counter, static_cast<double>(p.router_fallbacks));
    AddScalar(out, "smetsmon_clock_disagreements_total",
              "Events more than max_future ahead of the wall clock but not of the "
              "stream's own time: accepted (the wall clock is behind).",
              MetricType::Counter, static_cast<double>(p.clock_disagreements));
    AddCheckpointFamilies(pipeline_->checkpoint_stats(), &out);
  }

  if (kafka_ != nullptr) {
    const ingest::KafkaStats s = kafka_->stats();
    AddScalar(out, "smetsmon_kafka_consumed_messages_total", "Messages taken from Kafka.",
              MetricType::Counter, static_cast<double>(s.consumed));
    AddScalar(out, "smetsmon_kafka_applied_messages_total",
              "Messages applied by every worker (their offsets may be committed).",
              MetricType::Counter, static_cast<double>(s.applied));
    AddScalar(out, "smetsmon_kafka_dead_letter_messages_total",
              "Invalid messages produced to the dead-letter topic.", MetricType::Counter,
              static_cast<double>(s.dead_lettered));
    AddScalar(out, "smetsmon_dead_letter_fallback_total",
              "Dead letters the topic did not take, written (fsync'd) to "
              "kafka.dead_letter_file instead.",
              MetricType::Counter, static_cast<double>(s.dead_letter_fallback));
    auto dlq_errors = Family("smetsmon_dead_letter_errors_total",
                             "Dead letters that did not reach the topic (or the file), by reason: "
                             "delivery (refused), timeout (not acknowledged in time), enqueue "
                             "(producer queue full), file (file write failed; retried).",
                             MetricType::Counter);
    for (size_t i = 0; i < s.dead_letter_errors.size(); ++i) {
      Add(dlq_errors, static_cast<double>(s.dead_letter_errors[i]),
          {{"reason", ingest::kDeadLetterErrorNames[i]}});
    }
    out.push_back(std::move(dlq_errors));
    auto dlq_pending = Family("smetsmon_dead_letter_pending",
                              "Dead letters neither delivered nor durable yet; offsets past them "
                              "wait.",
                              MetricType::Gauge);
    Add(dlq_pending, static_cast<double>(s.dead_letter_pending));
    out.push_back(std::move(dlq_pending));
    AddScalar(out, "smetsmon_kafka_rebalances_total", "Partition assignments and revokes.",
              MetricType::Counter, static_cast<double>(s.rebalances));
    AddScalar(out, "smetsmon_kafka_fetch_paused_total",
              "Times fetching paused because workers were behind.", MetricType::Counter,
              static_cast<double>(s.paused));
    // The event-time merge of the partitions (ingest/event_time_merge.h).
    auto merge_buffered =
        Family("smetsmon_kafka_merge_buffered_messages",
               "Messages fetched and held for the event-time merge.", MetricType::Gauge);
    Add(merge_buffered, static_cast<double>(s.merge_buffered));
    out.push_back(std::move(merge_buffered));
    AddScalar(out, "smetsmon_kafka_merge_waits_total",
              "Times the event-time merge waited for a partition's next fetch.",
              MetricType::Counter, static_cast<double>(s.merge_waits));
    AddScalar(out, "smetsmon_kafka_merge_passed_over_total",
              "Partitions the event-time merge stopped waiting for after "
              "kafka.merge_max_wait without a delivery.",
              MetricType::Counter, static_cast<double>(s.merge_passed_over));
    AddScalar(out, "smetsmon_kafka_merge_forced_total",
              "Takes of the event-time merge over kafka.merge_max_buffered_bytes, "
              "in arrival order rather than event-time order.",
              MetricType::Counter, static_cast<double>(s.merge_forced));
    AddScalar(out, "smetsmon_kafka_assigned_partitions", "Partitions this instance owns.",
              MetricType::Gauge, static_cast<double>(s.assigned_partitions));
    auto lag_messages =
        Family("smetsmon_kafka_consumer_lag_messages",
               "High watermark minus consumed position, per partition.", MetricType::Gauge);
    auto lag_seconds =
        Family("smetsmon_kafka_consumer_lag_seconds",
               "Now minus the event time of the last event consumed, per partition; 0 when "
               "the partition is read to its end.",
               MetricType::Gauge);
    for (const ingest::PartitionLag& l : kafka_->Lag(clock_->Now())) {
      const std::vector<ClientMetric::Label> label = {{"partition", std::to_string(l.partition)}};
      Add(lag_messages, static_cast<double>(l.messages), label);
      Add(lag_seconds, l.seconds, label);
    }
    out.push_back(std::move(lag_messages));
    out.push_back(std::move(lag_seconds));
    AddScalar(out, "smetsmon_checkpoint_commit_held_back_seconds",
              "Seconds since offsets were last committed with a checkpoint while "
              "messages were applied after it: what a restart would read again (0 "
              "when nothing waits).",
              MetricType::Gauge, s.commit_held_back_s);
    AddKafkaClientFamilies(&out);
  }
  return out;
}

// librdkafka's own view of its clients (ingest/kafka_client_probe.h): errors it reported, brokers
// by connection state, the consumer's local fetch queue. Labels from fixed sets only.
void DaemonMetrics::AddKafkaClientFamilies(std::vector<prometheus::MetricFamily>* out) const {
  auto errors = Family("smetsmon_kafka_client_errors_total",
                       "Errors librdkafka reported for the client (error_cb; the name is in the "
                       "log line).",
                       MetricType::Counter);
  auto fatal = Family("smetsmon_kafka_client_fatal",
                      "1 when librdkafka reported a fatal error: the client is unusable until a "
                      "restart.",
                      MetricType::Gauge);
  auto brokers = Family("smetsmon_kafka_brokers",
                        "Brokers of the cluster by the client's connection state to them, from "
                        "librdkafka's last statistics.",
                        MetricType::Gauge);
  const std::pair<const char*, ingest::KafkaClientSnapshot> clients[] = {
      {"consumer", kafka_->consumer_client()},
      {"dead_letter_producer", kafka_->dead_letter_client()}};
  for (const auto& [client, snap] : clients) {
    uint64_t total = 0;
    for (const auto& [name, count] : snap.errors) total += count;
    Add(errors, static_cast<double>(total), {{"client", client}});
    Add(fatal, snap.fatal ? 1 : 0, {{"client", client}});
    for (const auto& [state, count] : snap.broker_states) {
      Add(brokers, static_cast<double>(count), {{"client", client}, {"state", state}});
    }
  }
  out->push_back(std::move(errors));
  out->push_back(std::move(fatal));
  if (!brokers.metric.empty()) out->push_back(std::move(brokers));
  const ingest::KafkaClientSnapshot& consumer = clients[0].second;
  auto queue_messages = Family("smetsmon_kafka_fetch_queue_messages",
                               "Messages librdkafka fetched and holds for the consumer (its "
                               "prefetch), from its last statistics.",
                               MetricType::Gauge);
  Add(queue_messages, static_cast<double>(consumer.fetch_queue_messages));
  out->push_back(std::move(queue_messages));
  auto queue_bytes = Family("smetsmon_kafka_fetch_queue_bytes",
                            "Bytes of the consumer's prefetch (queued.max.messages.kbytes bounds "
                            "it), from librdkafka's last statistics.",
                            MetricType::Gauge);
  Add(queue_bytes, static_cast<double>(consumer.fetch_queue_bytes));
  out->push_back(std::move(queue_bytes));
}

void DaemonMetrics::AddCheckpointFamilies(const pipeline::CheckpointStats& c,
                                          std::vector<MetricFamily>* out) {
  auto last = Family("smetsmon_checkpoint_last_success_timestamp_seconds",
                     "When the last checkpoint was written (Unix seconds; 0: none yet).",
                     MetricType::Gauge);
  Add(last, static_cast<double>(c.last_success_unix_ms) / 1000.0);
  out->push_back(std::move(last));
  auto failures = Family("smetsmon_checkpoint_failures_total",
                         "Checkpoint writes that failed, by reason; the previous checkpoint stays "
                         "and offsets are not committed.",
                         MetricType::Counter);
  // Every reason exported, at 0 until it happens, so alerts and dashboards have the series.
  for (const char* reason : {"no_space", "read_only", "permission", "quota", "io_error"}) {
    const auto it = c.failures.find(reason);
    Add(failures, it != c.failures.end() ? static_cast<double>(it->second) : 0.0,
        {{"reason", reason}});
  }
  out->push_back(std::move(failures));
  auto written =
      Family("smetsmon_checkpoint_written_total", "Checkpoints written.", MetricType::Counter);
  Add(written, static_cast<double>(c.written));
  out->push_back(std::move(written));
  auto duration =
      Family("smetsmon_checkpoint_duration_seconds",
             "How long the last checkpoint took, from the pause to written.", MetricType::Gauge);
  Add(duration, c.last_duration_s);
  out->push_back(std::move(duration));
  auto stall =
      Family("smetsmon_checkpoint_stall_seconds",
             "The longest any worker was paused by the last checkpoint.", MetricType::Gauge);
  Add(stall, c.last_stall_s);
  out->push_back(std::move(stall));
  auto bytes = Family("smetsmon_checkpoint_bytes", "Size of the last checkpoint written.",
                      MetricType::Gauge);
  Add(bytes, static_cast<double>(c.last_bytes));
  out->push_back(std::move(bytes));
  auto refused = Family("smetsmon_checkpoint_restore_refused_total",
                        "Checkpoints (or their rules state) refused at start as corrupt, "
                        "truncated or foreign; the daemon started afresh from the committed "
                        "offsets.",
                        MetricType::Counter);
  Add(refused, static_cast<double>(c.restore_refused));
  out->push_back(std::move(refused));
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
