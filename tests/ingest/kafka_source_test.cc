// Kafka ingestion against librdkafka's mock cluster (real protocol on loopback): exact
// reconciliation with what was produced, dead letters, and stop/resume without loss or double
// counting.
#include "ingest/kafka_source.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "gen/generator.h"
#include "gen/kafka_loadgen.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/pipeline.h"

namespace smetsmon::ingest {
namespace {

constexpr int kPartitions = 8;
// Kafka protocol API keys (librdkafka keeps its names for them internal).
constexpr int16_t kApiKeyFetch = 1;
constexpr int16_t kApiKeyOffsetCommit = 8;

class KafkaIngestTest : public ::testing::Test {
 protected:
  KafkaIngestTest()
      : ref_(testing::LoadTestReference()), clock_(ProcessingTime{4'000'000'000'000}) {
    kafka_.CreateTopic("smets.alerts", kPartitions);
    kafka_.CreateTopic("smets.alerts.dlq", 1);
  }

  std::vector<std::string> Traffic(uint64_t premises, int64_t hours, gen::GeneratedTruth* truth) {
    gen::GeneratorConfig config;
    config.premises = premises;
    config.duration_ms = hours * kMsPerHour;
    config.malformed_share = 0.005;
    gen::Generator g(*ref_.areas, *ref_.catalogue, config);
    std::vector<std::string> lines;
    g.Run([&](std::string_view l) { lines.emplace_back(l); });
    *truth = g.truth();
    return lines;
  }

  KafkaConfig Config() {
    KafkaConfig c;
    c.properties["bootstrap.servers"] = kafka_.bootstraps();
    c.properties["group.id"] = "smetsmon-test";
    c.properties["session.timeout.ms"] = "6000";
    c.batch_size = 512;
    return c;
  }

  // For tests that reconcile duplicates exactly. Partitions are read in no set order, so the
  // stream time (the newest event a worker has seen, from any partition) can run hours ahead of
  // a partition still being read, and a redelivery more than the dedup horizon of stream time
  // after its original counts again. A horizon longer than the generated traffic makes every
  // redelivery a duplicate however the partitions interleave; the horizon itself is tested in
  // dedup_filter_test and engine_test.
  static aggregate::EngineConfig ExactDedup() {
    aggregate::EngineConfig c;
    c.dedup_horizon_ms = 7 * kMsPerDay;
    return c;
  }

  // The pipeline (engine, workers) an ingest feeds.
  std::unique_ptr<pipeline::Pipeline> Pipeline(const aggregate::EngineConfig& engine = {},
                                               size_t max_inflight_batches = 8) {
    pipeline::PipelineConfig c = testing::TestPipelineConfig();
    c.engine = engine;
    c.max_inflight_batches = max_inflight_batches;
    return testing::MakePipeline(c, clock_);
  }

  // Runs an ingest until `expected` messages are applied, then stops it gracefully.
  void ConsumeUntil(pipeline::Pipeline& p, uint64_t expected, KafkaStats* stats = nullptr) {
    auto ingest = KafkaIngest::Create(p, Config(), clock_);
    ASSERT_TRUE(ingest.ok()) << ingest.status();
    std::thread poll([&] { (*ingest)->Run(); });
    const bool reached = (*ingest)->WaitForApplied(expected, 60'000);
    (*ingest)->Stop();
    poll.join();
    ASSERT_TRUE(reached) << "applied " << (*ingest)->stats().applied << " of " << expected;
    if (stats) *stats = (*ingest)->stats();
  }

  testing::MockKafka kafka_;
  catalog::ReferenceData ref_;
  ManualClock clock_;
};

TEST_F(KafkaIngestTest, ConsumesEverythingAndReconcilesExactly) {
  gen::GeneratedTruth truth;
  const auto lines = Traffic(3000, 6, &truth);
  kafka_.Produce("smets.alerts", lines);
  aggregate::EngineConfig config = ExactDedup();
  config.workers = 2;
  auto engine_pipeline = Pipeline(config);
  aggregate::Engine& engine = engine_pipeline->engine();
  KafkaStats stats;
  ConsumeUntil(*engine_pipeline, truth.lines, &stats);
  const aggregate::CounterTotals c = engine.Counters();
  EXPECT_EQ(stats.consumed, truth.lines);
  EXPECT_EQ(c.accepted, truth.unique_valid);
  EXPECT_EQ(c.duplicates, truth.duplicates);
  EXPECT_EQ(c.rejected_total(), truth.lines - truth.valid);
  EXPECT_EQ(stats.dead_lettered, truth.lines - truth.valid);
  EXPECT_EQ(stats.assigned_partitions, 0u);  // left the group on stop
}

TEST_F(KafkaIngestTest, InvalidMessagesGoWholeToTheDeadLetterTopicWithTheirReason) {
  const std::vector<std::string> lines = {
      R"({"alert_id":"x")",
      R"([1,2])",
      R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90","alert_code":"8F40","event_time":1})",
      R"({"alert_id":"b","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":1687780800000})",
  };
  kafka_.Produce("smets.alerts", lines);
  auto engine_pipeline = Pipeline();
  aggregate::Engine& engine = engine_pipeline->engine();
  ConsumeUntil(*engine_pipeline, lines.size());
  const auto dead = kafka_.ReadAll("smets.alerts.dlq", 1, 3);
  ASSERT_EQ(dead.size(), 3u);
  std::map<std::string, std::string> reason_of;
  for (const auto& r : dead) {
    reason_of[r.value] = r.headers.at("reason");
    EXPECT_EQ(r.headers.at("source_topic"), "smets.alerts");
    EXPECT_FALSE(r.headers.at("source_partition").empty());
    EXPECT_FALSE(r.headers.at("source_offset").empty());
  }
  EXPECT_EQ(reason_of[lines[0]], "not_json");
  EXPECT_EQ(reason_of[lines[1]], "not_object");
  EXPECT_EQ(reason_of[lines[2]], "bad_device_id");
  EXPECT_EQ(engine.Counters().accepted, 1u);
}

TEST_F(KafkaIngestTest, StopAndResumeLosesNothingAndCountsNothingTwice) {
  gen::GeneratedTruth truth;
  const auto lines = Traffic(2000, 4, &truth);
  const size_t half = lines.size() / 2;
  auto engine_pipeline = Pipeline(ExactDedup());
  aggregate::Engine& engine = engine_pipeline->engine();
  kafka_.Produce("smets.alerts", std::vector<std::string>(lines.begin(), lines.begin() + half));
  ConsumeUntil(*engine_pipeline, half);
  kafka_.Produce("smets.alerts", std::vector<std::string>(lines.begin() + half, lines.end()));
  // A new consumer in the same group resumes at the committed offsets: it must see exactly the
  // second half (a redelivered first half would show up as extra duplicates).
  KafkaStats second;
  ConsumeUntil(*engine_pipeline, lines.size() - half, &second);
  EXPECT_EQ(second.consumed, lines.size() - half);
  const aggregate::CounterTotals c = engine.Counters();
  EXPECT_EQ(c.accepted, truth.unique_valid);
  EXPECT_EQ(c.duplicates, truth.duplicates);
  EXPECT_EQ(c.accepted + c.duplicates + c.rejected_total(), truth.lines);
}

TEST_F(KafkaIngestTest, LoadgenReportReconcilesWithWhatTheMonitorCounts) {
  gen::GeneratorConfig traffic;
  traffic.premises = 2000;
  traffic.duration_ms = 5 * kMsPerHour;
  gen::LoadgenConfig lg;
  lg.bootstrap_servers = kafka_.bootstraps();
  gen::KafkaLoadgen loadgen(*ref_.areas, *ref_.catalogue, traffic, lg, clock_);
  auto report = loadgen.Run();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->sent, report->truth.lines);
  EXPECT_EQ(report->delivered, report->sent);
  EXPECT_EQ(report->failed, 0u);
  aggregate::EngineConfig config = ExactDedup();
  config.workers = 2;
  auto engine_pipeline = Pipeline(config);
  aggregate::Engine& engine = engine_pipeline->engine();
  ConsumeUntil(*engine_pipeline, report->delivered);
  const aggregate::CounterTotals c = engine.Counters();
  EXPECT_EQ(c.accepted, report->truth.unique_valid);
  EXPECT_EQ(c.duplicates, report->truth.duplicates);
  EXPECT_EQ(c.rejected_total(), report->truth.lines - report->truth.valid);
}

// Runs an ingest on its own thread until stopped.
class Running {
 public:
  Running(pipeline::Pipeline& p, const KafkaConfig& config, const Clock& clock) {
    auto ingest = KafkaIngest::Create(p, config, clock);
    EXPECT_TRUE(ingest.ok()) << ingest.status();
    ingest_ = std::move(*ingest);
    thread_ = std::thread([this] { ingest_->Run(); });
  }
  ~Running() { StopAndJoin(); }
  void StopAndJoin() {
    if (!thread_.joinable()) return;
    ingest_->Stop();
    thread_.join();
  }
  KafkaIngest* operator->() { return ingest_.get(); }

 private:
  std::unique_ptr<KafkaIngest> ingest_;
  std::thread thread_;
};

TEST_F(KafkaIngestTest, TwoInstancesSplitThePartitionsAndTheSurvivorTakesOver) {
  gen::GeneratorConfig traffic;
  traffic.premises = 3000;
  traffic.duration_ms = 6 * kMsPerHour;
  traffic.duplicate_share = 0;  // each instance dedups only the partitions it owns
  gen::Generator g(*ref_.areas, *ref_.catalogue, traffic);
  std::vector<std::string> lines;
  g.Run([&](std::string_view l) { lines.emplace_back(l); });
  const size_t half = lines.size() / 2;

  auto engine_a_pipeline = Pipeline();
  aggregate::Engine& engine_a = engine_a_pipeline->engine();
  auto engine_b_pipeline = Pipeline();
  aggregate::Engine& engine_b = engine_b_pipeline->engine();
  Running a(*engine_a_pipeline, Config(), clock_);
  Running b(*engine_b_pipeline, Config(), clock_);
  // A bounded wait without a sleep: wait for a count that is never reached.
  const auto wait_a_little = [&] { a->WaitForApplied(~uint64_t{0}, 50); };
  const auto split = [&] {
    const size_t na = a->stats().assigned_partitions, nb = b->stats().assigned_partitions;
    return na > 0 && nb > 0 && na + nb == static_cast<size_t>(kPartitions);
  };
  for (int i = 0; i < 1200 && !split(); ++i) wait_a_little();
  ASSERT_TRUE(split()) << a->stats().assigned_partitions << " + " << b->stats().assigned_partitions;

  kafka_.Produce("smets.alerts", std::vector<std::string>(lines.begin(), lines.begin() + half));
  for (int i = 0; i < 1200 && a->stats().applied + b->stats().applied < half; ++i) wait_a_little();
  ASSERT_EQ(a->stats().applied + b->stats().applied, half);

  // A stops (drains, commits, leaves); B takes every partition and the rest of the stream.
  a.StopAndJoin();
  for (int i = 0; i < 1200 && b->stats().assigned_partitions < static_cast<size_t>(kPartitions);
       ++i) {
    b->WaitForApplied(~uint64_t{0}, 50);
  }
  EXPECT_EQ(b->stats().assigned_partitions, static_cast<size_t>(kPartitions));
  const uint64_t by_a = a->stats().consumed;
  kafka_.Produce("smets.alerts", std::vector<std::string>(lines.begin() + half, lines.end()));
  ASSERT_TRUE(b->WaitForApplied(lines.size() - by_a, 60'000))
      << "b applied " << b->stats().applied << ", a " << by_a << ", of " << lines.size();
  b.StopAndJoin();
  // Exactly once across the two instances, by counts.
  EXPECT_EQ(a->stats().consumed + b->stats().consumed, lines.size());
  const auto ca = engine_a.Counters(), cb = engine_b.Counters();
  EXPECT_EQ(ca.accepted + cb.accepted, g.truth().unique_valid);
  EXPECT_EQ(ca.accepted + cb.accepted + ca.rejected_total() + cb.rejected_total(), lines.size());
}

TEST_F(KafkaIngestTest, FetchAndCommitErrorsAreRetriedWithoutLoss) {
  gen::GeneratedTruth truth;
  const auto lines = Traffic(1500, 3, &truth);
  kafka_.Produce("smets.alerts", lines);
  // Transient errors on the first fetches and offset commits.
  rd_kafka_mock_push_request_errors(
      kafka_.cluster(), kApiKeyFetch, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  rd_kafka_mock_push_request_errors(kafka_.cluster(), kApiKeyOffsetCommit, 2,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  auto engine_pipeline = Pipeline(ExactDedup());
  aggregate::Engine& engine = engine_pipeline->engine();
  ConsumeUntil(*engine_pipeline, lines.size());
  const aggregate::CounterTotals c = engine.Counters();
  EXPECT_EQ(c.accepted, truth.unique_valid);
  EXPECT_EQ(c.duplicates, truth.duplicates);
}

TEST_F(KafkaIngestTest, ABrokerDownAndBackUpLosesNothing) {
  gen::GeneratedTruth truth;
  const auto lines = Traffic(3000, 6, &truth);
  // Now is just after the traffic, as for a live stream: the workers advance their idle windows
  // while the broker is down, and the second half must still be deduplicated against the first.
  clock_.Set(ProcessingTime{gen::GeneratorConfig{}.start_ms + 6 * kMsPerHour + kMsPerMinute});
  const std::vector<std::string> first(lines.begin(), lines.begin() + lines.size() / 2);
  const std::vector<std::string> second(lines.begin() + lines.size() / 2, lines.end());
  // Spread the partition leaders over the three brokers.
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_EQ(rd_kafka_mock_partition_set_leader(kafka_.cluster(), "smets.alerts", p, p % 3 + 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  kafka_.Produce("smets.alerts", first);
  aggregate::EngineConfig config = ExactDedup();
  config.workers = 2;
  auto engine_pipeline = Pipeline(config);
  aggregate::Engine& engine = engine_pipeline->engine();
  auto ingest = KafkaIngest::Create(*engine_pipeline, Config(), clock_);
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  std::thread poll([&] { (*ingest)->Run(); });
  ASSERT_TRUE((*ingest)->WaitForApplied(first.size(), 60'000));
  // Broker 2 leads partitions 1 and 4 (and may coordinate the group): take it away, then send
  // the second half to partition 1. It waits in the producer until the broker is back.
  ASSERT_EQ(rd_kafka_mock_broker_set_down(kafka_.cluster(), 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::thread produce([&] { kafka_.Produce("smets.alerts", second, 10000, /*partition=*/1); });
  const bool finished_while_down = (*ingest)->WaitForApplied(lines.size(), 3000);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(kafka_.cluster(), 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  produce.join();
  const bool all = (*ingest)->WaitForApplied(lines.size(), 90'000);
  (*ingest)->Stop();
  poll.join();
  EXPECT_FALSE(finished_while_down);  // the outage really held part of the stream back
  ASSERT_TRUE(all) << "applied " << (*ingest)->stats().applied << " of " << lines.size();
  const aggregate::CounterTotals c = engine.Counters();
  // Nothing lost; anything fetched twice around the outage is absorbed by the duplicate filter.
  EXPECT_EQ(c.accepted, truth.unique_valid);
  EXPECT_GE(c.duplicates, truth.duplicates);
  EXPECT_EQ(c.accepted + c.duplicates + c.rejected_total(), (*ingest)->stats().applied);
}

// The manual clock stands at 2096 and the traffic is from 2023: an idle advance (stream time =
// now - idle lag) before the traffic is read would make all of it late for every window. The
// workers try to advance every 10 ms, all through the group join and the catch-up.
TEST_F(KafkaIngestTest, ABacklogReadAfterTheGroupJoinIsNotMadeLateByIdleAdvance) {
  gen::GeneratedTruth truth;
  const auto lines = Traffic(2000, 6, &truth);
  kafka_.Produce("smets.alerts", lines);
  aggregate::EngineConfig config;
  config.workers = 2;
  auto engine_pipeline = Pipeline(config);
  aggregate::Engine& engine = engine_pipeline->engine();
  KafkaConfig kc = Config();
  kc.idle_advance_ms = 10;
  auto ingest = KafkaIngest::Create(*engine_pipeline, kc, clock_);
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  std::thread poll([&] { (*ingest)->Run(); });
  const bool all = (*ingest)->WaitForApplied(truth.lines, 60'000);
  const aggregate::CounterTotals c = engine.Counters();
  (*ingest)->Stop();
  poll.join();
  ASSERT_TRUE(all);
  ASSERT_GT(c.accepted, 1000u);
  // Six hours of traffic fit the 24 h windows whatever order the partitions are read in.
  // (Once everything is read, the idle advance may move the stream time on: that is not late.)
  EXPECT_EQ(c.late_24h, 0u);
}

// With nothing assigned (here: a topic that does not exist), the windows wait for a group join,
// then age out with processing time once no partition has come for idle_advance_unassigned_ms.
TEST_F(KafkaIngestTest, WithoutPartitionsTheWindowsAdvanceAfterTheUnassignedGrace) {
  auto engine_pipeline = Pipeline();
  aggregate::Engine& engine = engine_pipeline->engine();
  KafkaConfig kc = Config();
  kc.topic = "no.such.topic";
  kc.idle_advance_ms = 10;
  kc.idle_advance_unassigned_ms = 30'000;
  auto ingest = KafkaIngest::Create(*engine_pipeline, kc, clock_);
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  std::thread poll([&] { (*ingest)->Run(); });
  // Many idle-advance attempts (10 ms apart) while the manual clock stands still: none moves.
  (*ingest)->WaitForApplied(1, 500);
  const EventTime before = engine.StreamTime();
  clock_.Advance(30'000);
  const int64_t expected = clock_.Now().ms - aggregate::EngineConfig{}.idle_lag_ms;
  for (int i = 0; i < 200 && engine.StreamTime().ms != expected; ++i) {
    (*ingest)->WaitForApplied(1, 50);
  }
  const EventTime after = engine.StreamTime();
  (*ingest)->Stop();
  poll.join();
  EXPECT_EQ(before.ms, EventTime::Min().ms);
  EXPECT_EQ(after.ms, expected);
}

TEST_F(KafkaIngestTest, SlowWorkersPauseFetchingInsteadOfQueueingWithoutBound) {
  gen::GeneratedTruth truth;
  const auto lines = Traffic(2000, 4, &truth);
  kafka_.Produce("smets.alerts", lines);
  aggregate::EngineConfig config = ExactDedup();
  config.workers = 2;
  KafkaConfig kc = Config();
  kc.batch_size = 100;
  kc.max_inflight_batches = 2;
  auto engine_pipeline = Pipeline(config, kc.max_inflight_batches);
  aggregate::Engine& engine = engine_pipeline->engine();
  auto ingest = KafkaIngest::Create(*engine_pipeline, kc, clock_);
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  // Hold worker 1 until released: batches cannot complete, so the consumer must stop fetching.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  engine_pipeline->RunOnWorker(1, [&](aggregate::Worker&) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  std::thread poll([&] { (*ingest)->Run(); });
  // While held, at most max_inflight_batches batches are taken from Kafka and fetching pauses.
  // (Joining the group takes a few seconds: wait for the in-flight limit to be reached.)
  const uint64_t bound = kc.batch_size * kc.max_inflight_batches;
  bool applied_while_held = false;
  for (int i = 0; i < 600 && (*ingest)->stats().paused == 0; ++i) {
    applied_while_held |= (*ingest)->WaitForApplied(1, 100);
  }
  applied_while_held |= (*ingest)->WaitForApplied(1, 500);  // and it stays held
  const KafkaStats held = (*ingest)->stats();
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  const bool all = (*ingest)->WaitForApplied(lines.size(), 60'000);
  (*ingest)->Stop();
  poll.join();
  EXPECT_FALSE(applied_while_held);
  EXPECT_LE(held.consumed, bound);
  EXPECT_GE(held.paused, 1u);
  ASSERT_TRUE(all);
  EXPECT_EQ(engine.Counters().accepted, truth.unique_valid);
}

}  // namespace
}  // namespace smetsmon::ingest
