// smetsmon-bench-kafka [--events N] [--workers W] [--hours H]: against librdkafka's mock cluster,
// produces N generated events (zstd) spread over H hours of event time (default 24: a generated
// day; at N = 2 M, --hours 1 is the national average density, about 35 k alerts a minute, so the
// once-a-minute work of the rules and the workers' readings weighs per event as it does live),
// then measures in the same run
//   (a) a bare librdkafka batch consumer that only touches each payload, and
//   (b) the daemon's full pipeline (KafkaIngest into pipeline::Pipeline: consume, route, decode,
//       apply to state, rules on their grid), each from its first message to its last,
// with the CPU time smetsmon's own threads (smetsmon-poll, -wN, -rules; per-thread clocks from
// /proc) spent per event in (b), librdkafka's threads excluded, in total and per thread kind.
// Then the latency from consume to state applied at a steady rate (--latency-rate, default
// 100 k events/s, for --latency-seconds, default 10; 0 skips it).
// --trace prints the pipeline's applied count every 100 ms (a stall shows as a repeated count).
// Experiments: SMETSMON_BENCH_KAFKA_PROPS="k=v,k=v" adds librdkafka properties to the pipeline's
// consumer, SMETSMON_BENCH_KAFKA_DEBUG="fetch" turns on librdkafka's debug log for it.
// Last line: {"events":N,"bare_events_per_s":...,"smetsmon_events_per_s":...,"ratio":...,
//             "own_cpu_ns_per_event":...,"poll_ns":...,"workers_ns":...,"rules_ns":...,
//             "hours":H,"latency_rate_per_s":...,"p50_ms":...,"p99_ms":...}
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "aggregate/engine.h"
#include "bench_util.h"
#include "gen/kafka_loadgen.h"
#include "ingest/kafka_source.h"

namespace smetsmon {
namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Reads every message of `topic` from the beginning (explicit assignment, no group join) and
// touches each payload; returns the seconds from the first message to the last.
double BareConsume(const std::string& bootstraps, const std::string& topic, int partitions,
                   uint64_t events, uint64_t* sink) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "bench-bare", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> batch(4096);
  uint64_t seen = 0;
  std::chrono::steady_clock::time_point first{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (seen < events && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch.data(), batch.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (seen == 0) first = std::chrono::steady_clock::now();
        ++seen;
        const auto* bytes = static_cast<const unsigned char*>(m->payload);
        *sink += m->len + (m->len ? bytes[m->len - 1] : 0);
      }
      rd_kafka_message_destroy(m);
    }
  }
  const auto last = std::chrono::steady_clock::now();
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return seen == events ? Seconds(first, last) : -1;
}

}  // namespace
}  // namespace smetsmon

int main(int argc, char** argv) {
  using namespace smetsmon;
  uint64_t events = 5'000'000;
  bool trace = false;
  size_t workers = 1;
  double latency_rate = 100'000;
  int latency_seconds = 10;
  int hours = 24;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      events = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--latency-rate") == 0 && i + 1 < argc) {
      latency_rate = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--latency-seconds") == 0 && i + 1 < argc) {
      latency_seconds = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--hours") == 0 && i + 1 < argc) {
      hours = std::clamp(std::atoi(argv[++i]), 1, 24);
    } else if (std::strcmp(argv[i], "--trace") == 0) {
      trace = true;
    } else if (std::strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      workers = std::max<size_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr,
                   "usage: smetsmon-bench-kafka [--events N] [--workers W] [--hours H] "
                   "[--latency-rate R] [--latency-seconds S] [--trace]\n");
      return 2;
    }
  }
  auto ref = bench::LoadReference();
  // The mock keeps 5 MiB of compressed batches per partition: about 60 k events each at zstd.
  const int partitions = static_cast<int>(std::max<uint64_t>(16, events / 50'000 + 1));
  char err[512];
  rd_kafka_conf_t* host_conf = rd_kafka_conf_new();
  rd_kafka_conf_set(host_conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, host_conf, err, sizeof err);
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(host, 3);
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(mock);
  const std::string topic = "smets.alerts";
  rd_kafka_mock_topic_create(mock, topic.c_str(), partitions, 1);

  // Produce: a generated fleet sized to give about N events in a day.
  SystemClock clock;
  gen::GeneratorConfig traffic;
  traffic.premises = std::max<uint64_t>(1000, events * 100 / 358);  // ~3.58 events/premises/day
  // The same events in fewer hours: each premises raises its day's alerts within them.
  traffic.duration_ms = hours * kMsPerHour;
  traffic.smets1_alerts_per_day *= 24.0 / hours;
  traffic.smets2_alerts_per_day *= 24.0 / hours;
  gen::LoadgenConfig lg;
  lg.bootstrap_servers = bootstraps;
  lg.topic = topic;
  gen::KafkaLoadgen loadgen(*ref.areas, *ref.catalogue, traffic, lg, clock);
  const auto p0 = std::chrono::steady_clock::now();
  auto report = loadgen.Run();
  const auto p1 = std::chrono::steady_clock::now();
  if (!report.ok() || report->delivered != report->sent) {
    std::fprintf(stderr, "bench: produce failed\n");
    return 1;
  }
  const uint64_t n = report->sent;
  std::fprintf(stderr, "produced %llu events to %d partitions in %.1f s (%.0f/s)\n",
               static_cast<unsigned long long>(n), partitions, Seconds(p0, p1),
               static_cast<double>(n) / Seconds(p0, p1));

  uint64_t sink = 0;
  const double bare_s = BareConsume(bootstraps, topic, partitions, n, &sink);
  if (bare_s <= 0) {
    std::fprintf(stderr, "bench: the bare consumer did not read everything\n");
    return 1;
  }

  // The full pipeline: the daemon's ingestion into a fresh engine.
  pipeline::PipelineConfig config = bench::PipelineConfigFor(workers, /*rules=*/true);
  config.engine.expected_devices = traffic.premises * 2;
  auto built = pipeline::Pipeline::Create(config, clock);
  if (!built.ok()) {
    std::fprintf(stderr, "bench: %s\n", built.status().ToString().c_str());
    return 1;
  }
  aggregate::Engine& engine = (*built)->engine();
  ingest::KafkaConfig kc;
  kc.topic = topic;
  kc.dead_letter_topic = "";
  kc.properties["bootstrap.servers"] = bootstraps;
  kc.properties["group.id"] = "bench-smetsmon";
  kc.properties["session.timeout.ms"] = "6000";
  kc.properties["log_level"] = "3";
  if (const char* extra = std::getenv("SMETSMON_BENCH_KAFKA_PROPS")) {  // k=v,k=v (experiments)
    std::string list = extra;
    for (size_t at = 0; at < list.size();) {
      const size_t end = std::min(list.find(',', at), list.size());
      const std::string kv = list.substr(at, end - at);
      if (kv.find('=') != std::string::npos) {
        kc.properties[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
      }
      at = end + 1;
    }
  }
  if (const char* debug = std::getenv("SMETSMON_BENCH_KAFKA_DEBUG")) {  // e.g. "fetch"
    kc.properties["debug"] = debug;
    kc.properties["log_level"] = "7";
  }
  auto ingest = ingest::KafkaIngest::Create(**built, kc, clock);
  if (!ingest.ok()) {
    std::fprintf(stderr, "bench: %s\n", ingest.status().ToString().c_str());
    return 1;
  }
  std::thread poll([&] { (*ingest)->Run(); });
  (*ingest)->WaitForApplied(1, 60'000);  // the group join takes a few seconds: not measured
  const auto s0 = std::chrono::steady_clock::now();
  const uint64_t at_start = (*ingest)->stats().applied;
  const double poll0 = bench::ThreadCpuSeconds("smetsmon-poll");
  const double workers0 = bench::ThreadCpuSeconds("smetsmon-w");
  const double rules0 = bench::ThreadCpuSeconds("smetsmon-rules");
  bool all = false;
  std::string progress;  // applied count every 100 ms, for a stall to show (--trace)
  for (int i = 0; i < 6000 && !all; ++i) {
    all = (*ingest)->WaitForApplied(n, 100);
    if (trace) progress += std::to_string((*ingest)->stats().applied) + " ";
  }
  const auto s1 = std::chrono::steady_clock::now();
  const double poll_s = bench::ThreadCpuSeconds("smetsmon-poll") - poll0;
  const double workers_s = bench::ThreadCpuSeconds("smetsmon-w") - workers0;
  const double rules_s = bench::ThreadCpuSeconds("smetsmon-rules") - rules0;
  const double own_cpu_s = poll_s + workers_s + rules_s;  // bench::PipelineThreadsCpuSeconds()
  if (trace) {
    std::fprintf(stderr,
                 "applied every 100 ms: %s\npauses for backpressure: %llu; devices %llu (table "
                 "sized for %llu)\n",
                 progress.c_str(), static_cast<unsigned long long>((*ingest)->stats().paused),
                 static_cast<unsigned long long>(engine.Counters().devices),
                 static_cast<unsigned long long>(config.engine.expected_devices));
  }
  (*ingest)->Stop();
  poll.join();
  if (!all) {
    std::fprintf(stderr, "bench: the pipeline did not apply everything\n");
    return 1;
  }
  const double bare_rate = static_cast<double>(n) / bare_s;
  const double smetsmon_rate = static_cast<double>(n - at_start) / Seconds(s0, s1);
  const auto per_event = [&](double cpu_s) {
    return cpu_s * 1e9 / static_cast<double>(n - at_start);
  };
  const double own_ns_per_event = per_event(own_cpu_s);
  std::fprintf(stderr,
               "bare consumer %.0f events/s; smetsmon pipeline %.0f events/s with %zu worker(s) "
               "(accepted %llu, sink %llu)\n",
               bare_rate, smetsmon_rate, workers,
               static_cast<unsigned long long>(engine.Counters().accepted),
               static_cast<unsigned long long>(sink & 1));
  // Latency at a steady rate: a fresh topic and engine, the pipeline running before the
  // producer starts, the producer paced to `latency_rate`.
  uint64_t latency_batches = 0;
  double p50_ms = 0, p99_ms = 0;
  if (latency_rate > 0 && latency_seconds > 0) {
    const std::string lat_topic = "smets.latency";
    rd_kafka_mock_topic_create(mock, lat_topic.c_str(), 16, 1);
    auto lat_pipeline = pipeline::Pipeline::Create(config, clock);
    if (!lat_pipeline.ok()) return 1;
    ingest::KafkaConfig lc = kc;
    lc.topic = lat_topic;
    lc.properties["group.id"] = "bench-latency";
    auto lat_ingest = ingest::KafkaIngest::Create(**lat_pipeline, lc, clock);
    if (!lat_ingest.ok()) return 1;
    std::thread lat_poll([&] { (*lat_ingest)->Run(); });
    for (int i = 0; i < 600 && (*lat_ingest)->stats().assigned_partitions == 0; ++i) {
      (*lat_ingest)->WaitForApplied(1, 100);  // the group join: wait for the assignment
    }
    gen::LoadgenConfig paced = lg;
    paced.topic = lat_topic;
    paced.rate_per_s = latency_rate;
    gen::GeneratorConfig lat_traffic = traffic;
    lat_traffic.seed = traffic.seed + 7;
    gen::KafkaLoadgen lat_loadgen(*ref.areas, *ref.catalogue, lat_traffic, paced, clock);
    const auto target = static_cast<uint64_t>(latency_rate * latency_seconds);
    std::thread stopper([&] {
      while (lat_loadgen.sent() < target) (*lat_ingest)->WaitForApplied(~uint64_t{0}, 50);
      lat_loadgen.Stop();
    });
    auto lat_report = lat_loadgen.Run();
    stopper.join();
    const uint64_t sent = lat_report.ok() ? lat_report->sent : 0;
    (*lat_ingest)->WaitForApplied(sent, 120'000);
    (*lat_ingest)->Stop();
    lat_poll.join();
    const pipeline::PipelineStats lat_stats = (*lat_pipeline)->stats();
    latency_batches = lat_stats.latency_batches();
    p50_ms = lat_stats.LatencyQuantileS(0.50) * 1000;
    p99_ms = lat_stats.LatencyQuantileS(0.99) * 1000;
    std::fprintf(stderr,
                 "latency at %.0f events/s for %d s (%llu events, %llu batches): p50 %.1f ms, "
                 "p99 %.1f ms (consume to applied, batch bucket upper bounds)\n",
                 latency_rate, latency_seconds, static_cast<unsigned long long>(sent),
                 static_cast<unsigned long long>(latency_batches), p50_ms, p99_ms);
  }
  std::printf(
      "{\"events\":%llu,\"bare_events_per_s\":%.0f,\"smetsmon_events_per_s\":%.0f,\"ratio\":%.3f,"
      "\"own_cpu_ns_per_event\":%.0f,\"poll_ns\":%.0f,\"workers_ns\":%.0f,\"rules_ns\":%.0f,"
      "\"hours\":%d,\"latency_rate_per_s\":%.0f,\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
      static_cast<unsigned long long>(n), bare_rate, smetsmon_rate, smetsmon_rate / bare_rate,
      own_ns_per_event, per_event(poll_s), per_event(workers_s), per_event(rules_s), hours,
      latency_rate, p50_ms, p99_ms);
  ingest->reset();  // consumers go before the cluster they talk to
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(host);
  return 0;
}
