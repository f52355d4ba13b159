// Dead letters while the dead-letter topic fails (librdkafka's mock cluster with injected produce
// errors): every rejected message ends up in the topic or in the local dead-letter file, none
// lost, and offsets are committed only past rejected messages whose record is delivered or
// durable.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ingest/kafka_source.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/pipeline.h"

namespace smetsmon::ingest {
namespace {

constexpr int kPartitions = 4;
constexpr int16_t kApiKeyProduce = 0;  // Kafka protocol API key (librdkafka keeps it internal)
constexpr char kGroup[] = "smetsmon-dlq-test";

class DeadLetterKafkaTest : public ::testing::Test {
 protected:
  DeadLetterKafkaTest() : clock_(ProcessingTime{4'000'000'000'000}) {
    kafka_.CreateTopic("smets.alerts", kPartitions);
    kafka_.CreateTopic("smets.alerts.dlq", 1);
    file_ = testing::TempPath("dead.jsonl");
    checkpoint_ = testing::TempPath("state.ckpt");
    std::remove(file_.c_str());
    std::remove(checkpoint_.c_str());
  }

  // Lines the decoder rejects (not JSON), distinct, without characters JSON escapes.
  static std::vector<std::string> Garbage(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back("garbage-" + std::to_string(i));
    return out;
  }

  KafkaConfig Config(bool with_file) {
    KafkaConfig c;
    c.properties["bootstrap.servers"] = kafka_.bootstraps();
    c.properties["group.id"] = kGroup;
    c.properties["session.timeout.ms"] = "6000";
    c.batch_size = 8;  // many batches, so dead letters are produced over several requests
    c.checkpoint_interval_ms = 100;
    c.dead_letter_flush_ms = 300;
    if (with_file) c.dead_letter_file = file_;
    return c;
  }

  // Consumes until `expected` messages are applied and stops (the stop checkpoints and commits).
  KafkaStats Consume(const KafkaConfig& config, uint64_t expected) {
    pipeline::PipelineConfig pc = testing::TestPipelineConfig();
    pc.checkpoint_path = checkpoint_;
    auto p = testing::MakePipeline(pc, clock_);
    EXPECT_NE(p, nullptr);
    if (p == nullptr) return {};
    auto ingest = KafkaIngest::Create(*p, config, clock_);
    EXPECT_TRUE(ingest.ok()) << ingest.status();
    if (!ingest.ok()) return {};
    std::thread poll([&] { (*ingest)->Run(); });
    const bool reached = (*ingest)->WaitForApplied(expected, 60'000);
    (*ingest)->Stop();
    poll.join();
    EXPECT_TRUE(reached) << "applied " << (*ingest)->stats().applied << " of " << expected;
    return (*ingest)->stats();
  }

  // The raw messages in the dead-letter file ("raw" of each JSON line; Garbage needs no
  // unescaping).
  std::vector<std::string> FileRaws() {
    std::vector<std::string> out;
    std::ifstream in(file_);
    for (std::string line; std::getline(in, line);) {
      const std::string key = "\"raw\":\"";
      const size_t at = line.find(key);
      EXPECT_NE(at, std::string::npos) << line;
      EXPECT_NE(line.find("\"reason\":\"not_json\""), std::string::npos) << line;
      EXPECT_NE(line.find("\"source\":\"smets.alerts/"), std::string::npos) << line;
      if (at == std::string::npos) continue;
      const size_t start = at + key.size();
      out.push_back(line.substr(start, line.find('"', start) - start));
    }
    return out;
  }

  // A short-lived client for the topic's high watermarks and the group's committed offsets.
  struct Offsets {
    std::vector<int64_t> high;
    std::vector<int64_t> committed;
  };
  Offsets Read(const std::string& topic, int partitions) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", kafka_.bootstraps().c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", kGroup, err, sizeof err);
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    Offsets out;
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      int64_t low = 0, high = -1;
      EXPECT_EQ(rd_kafka_query_watermark_offsets(c, topic.c_str(), p, &low, &high, 10'000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      out.high.push_back(high);
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p);
    }
    EXPECT_EQ(rd_kafka_committed(c, parts, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < partitions; ++p) out.committed.push_back(parts->elems[p].offset);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(c);
    return out;
  }

  // Every partition that holds messages is committed to its end.
  void ExpectAllCommitted() {
    const Offsets source = Read("smets.alerts", kPartitions);
    for (int p = 0; p < kPartitions; ++p) {
      if (source.high[p] > 0) {
        EXPECT_EQ(source.committed[p], source.high[p]) << "partition " << p;
      }
    }
  }

  testing::MockKafka kafka_;
  ManualClock clock_;
  std::string file_;
  std::string checkpoint_;
};

TEST_F(DeadLetterKafkaTest, RefusedDeadLettersGoToTheFileAndNoneIsLost) {
  const std::vector<std::string> lines = Garbage(60);
  kafka_.Produce("smets.alerts", lines);
  // The broker refuses the first produce request (not retriable): its records come back in
  // failed delivery reports.
  rd_kafka_mock_push_request_errors(kafka_.cluster(), kApiKeyProduce, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  KafkaConfig config = Config(/*with_file=*/true);
  config.dead_letter_flush_ms = 10'000;  // long enough for the refusal to be reported
  const KafkaStats stats = Consume(config, lines.size());

  const std::vector<std::string> in_file = FileRaws();
  const Offsets dlq = Read("smets.alerts.dlq", 1);
  const auto in_topic = kafka_.ReadAll("smets.alerts.dlq", 1, static_cast<size_t>(dlq.high[0]));
  std::multiset<std::string> all(in_file.begin(), in_file.end());
  for (const auto& r : in_topic) all.insert(r.value);
  EXPECT_EQ(all, std::multiset<std::string>(lines.begin(), lines.end()));
  EXPECT_GT(in_file.size(), 0u);
  EXPECT_EQ(stats.dead_letter_fallback, in_file.size());
  EXPECT_EQ(stats.dead_lettered, in_topic.size());
  EXPECT_EQ(stats.dead_letter_errors[static_cast<size_t>(DeadLetterError::kDelivery)],
            in_file.size());
  EXPECT_EQ(stats.dead_letter_pending, 0u);
  ExpectAllCommitted();  // everything settled, so everything committed
}

TEST_F(DeadLetterKafkaTest, AnUnavailableTopicFallsBackToTheFileAfterTheBoundAndIngestionGoesOn) {
  const std::vector<std::string> lines = Garbage(40);
  kafka_.Produce("smets.alerts", lines);
  // Every produce request fails with a retriable error: the producer keeps retrying, nothing is
  // acknowledged within dead_letter_flush_ms.
  std::vector<rd_kafka_resp_err_t> errors(100'000, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  rd_kafka_mock_push_request_errors_array(kafka_.cluster(), kApiKeyProduce, errors.size(),
                                          errors.data());
  const KafkaStats stats = Consume(Config(/*with_file=*/true), lines.size());
  rd_kafka_mock_clear_request_errors(kafka_.cluster(), kApiKeyProduce);

  const std::vector<std::string> in_file = FileRaws();
  EXPECT_EQ(std::multiset<std::string>(in_file.begin(), in_file.end()),
            std::multiset<std::string>(lines.begin(), lines.end()));
  EXPECT_EQ(Read("smets.alerts.dlq", 1).high[0], 0);
  EXPECT_EQ(stats.dead_letter_fallback, lines.size());
  EXPECT_EQ(stats.dead_letter_errors[static_cast<size_t>(DeadLetterError::kTimeout)], lines.size());
  EXPECT_EQ(stats.dead_letter_pending, 0u);
  ExpectAllCommitted();
}

TEST_F(DeadLetterKafkaTest, WithoutAFileOffsetsWaitForTheTopicAndARestartDeliversThem) {
  const std::vector<std::string> lines = Garbage(20);
  kafka_.Produce("smets.alerts", lines);
  // The dead-letter topic has no leader: the producer waits for one.
  rd_kafka_mock_topic_set_error(kafka_.cluster(), "smets.alerts.dlq",
                                RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  const KafkaStats first = Consume(Config(/*with_file=*/false), lines.size());
  EXPECT_EQ(first.dead_lettered, 0u);
  EXPECT_EQ(first.dead_letter_fallback, 0u);
  const Offsets held = Read("smets.alerts", kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    // Nothing past an undelivered dead letter is committed (every partition read holds some).
    if (held.high[p] > 0) {
      EXPECT_LT(held.committed[p], held.high[p]) << "partition " << p;
    }
  }
  // The topic is back: a restart reads the rejected messages again and delivers them.
  rd_kafka_mock_topic_set_error(kafka_.cluster(), "smets.alerts.dlq", RD_KAFKA_RESP_ERR_NO_ERROR);
  KafkaConfig config = Config(/*with_file=*/false);
  config.dead_letter_flush_ms = 10'000;  // a new producer's first connection and metadata
  const KafkaStats second = Consume(config, lines.size());
  const auto in_topic = kafka_.ReadAll("smets.alerts.dlq", 1, lines.size());
  std::set<std::string> delivered;
  for (const auto& r : in_topic) delivered.insert(r.value);
  EXPECT_EQ(delivered, std::set<std::string>(lines.begin(), lines.end()));
  EXPECT_EQ(second.dead_lettered, lines.size());
  ExpectAllCommitted();
}

}  // namespace
}  // namespace smetsmon::ingest
