// librdkafka's statistics, errors and log lines as the probe reads them: brokers by state (the
// bootstrap addresses and the logical coordinator left out, a state no broker is in any more kept
// at 0), the consumer's fetch queue summed over real partitions, errors counted and a fatal one
// remembered.
#include "ingest/kafka_client_probe.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <string>

namespace smetsmon::ingest {
namespace {

// The shape of librdkafka's statistics (STATISTICS.md), cut to the fields the probe reads.
std::string Statistics(const std::string& broker1_state, const std::string& broker2_state) {
  return R"({"name":"rdkafka#consumer-1","type":"consumer","brokers":{)"
         R"("GroupCoordinator":{"nodeid":2,"source":"logical","state":"UP"},)"
         R"("127.0.0.1:9092/bootstrap":{"nodeid":-1,"source":"configured","state":"INIT"},)"
         R"("127.0.0.1:9092/1":{"nodeid":1,"source":"learned","state":")" +
         broker1_state +
         R"("},)"
         R"("127.0.0.1:9093/2":{"nodeid":2,"source":"learned","state":")" +
         broker2_state +
         R"("}},)"
         R"("topics":{"smets.alerts":{"partitions":{)"
         R"("0":{"fetchq_cnt":10,"fetchq_size":2500},)"
         R"("1":{"fetchq_cnt":5,"fetchq_size":1000},)"
         R"("-1":{"fetchq_cnt":99,"fetchq_size":99999}}}}})";
}

TEST(KafkaClientProbeTest, CountsBrokersByStateAndSumsTheFetchQueue) {
  KafkaClientProbe probe("consumer");
  probe.OnStatistics(Statistics("UP", "UP"));
  KafkaClientSnapshot s = probe.Snapshot();
  EXPECT_EQ(s.statistics, 1u);
  ASSERT_EQ(s.broker_states.size(), 1u);
  EXPECT_EQ(s.broker_states["UP"], 2);
  EXPECT_EQ(s.fetch_queue_messages, 15);
  EXPECT_EQ(s.fetch_queue_bytes, 3500);

  // A broker goes down: UP 1, DOWN 1; then both come back: DOWN stays as a series, at 0.
  probe.OnStatistics(Statistics("UP", "DOWN"));
  s = probe.Snapshot();
  EXPECT_EQ(s.broker_states["UP"], 1);
  EXPECT_EQ(s.broker_states["DOWN"], 1);
  probe.OnStatistics(Statistics("UP", "UP"));
  s = probe.Snapshot();
  EXPECT_EQ(s.broker_states["UP"], 2);
  ASSERT_EQ(s.broker_states.count("DOWN"), 1u);
  EXPECT_EQ(s.broker_states["DOWN"], 0);
}

TEST(KafkaClientProbeTest, AnUnreadableDocumentChangesNothing) {
  KafkaClientProbe probe("consumer");
  probe.OnStatistics(Statistics("UP", "UP"));
  probe.OnStatistics("{\"brokers\": [not json");
  const KafkaClientSnapshot s = probe.Snapshot();
  EXPECT_EQ(s.statistics, 1u);
  EXPECT_EQ(s.fetch_queue_messages, 15);
}

TEST(KafkaClientProbeTest, CountsErrorsByNameAndRemembersAFatalOne) {
  KafkaClientProbe probe("dead_letter_producer");
  probe.OnError(RD_KAFKA_RESP_ERR__TRANSPORT, "broker down");
  probe.OnError(RD_KAFKA_RESP_ERR__TRANSPORT, "broker down");
  probe.OnError(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "all down");
  KafkaClientSnapshot s = probe.Snapshot();
  EXPECT_EQ(s.errors["_TRANSPORT"], 2u);
  EXPECT_EQ(s.errors["_ALL_BROKERS_DOWN"], 1u);
  EXPECT_FALSE(s.fatal);
  probe.OnError(RD_KAFKA_RESP_ERR__FATAL, "fenced");
  s = probe.Snapshot();
  EXPECT_TRUE(s.fatal);
  EXPECT_EQ(s.errors["_FATAL"], 1u);
}

}  // namespace
}  // namespace smetsmon::ingest
