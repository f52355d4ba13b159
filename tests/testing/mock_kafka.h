// librdkafka's built-in mock cluster for hermetic Kafka tests: real Kafka protocol on loopback.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace smetsmon::testing {

class MockKafka {
 public:
  explicit MockKafka(int brokers = 3) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mock_ = rd_kafka_mock_cluster_new(host_, brokers);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock_);
  }
  ~MockKafka() {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    rd_kafka_mock_cluster_destroy(mock_);
    rd_kafka_destroy(host_);
  }
  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* cluster() { return mock_; }

  void CreateTopic(const std::string& topic, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_, topic.c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Produces each line keyed by its device id (as upstream does, so a device's alerts and their
  // redeliveries share a partition), zstd, and waits for delivery.
  // `batch_messages` caps a record batch (the mock serves one batch per partition per fetch).
  // Sends `lines` (no key) to `partition`, or spread by librdkafka's partitioner over the
  // partitions that are available when RD_KAFKA_PARTITION_UA.
  void Produce(const std::string& topic, const std::vector<std::string>& lines,
               int batch_messages = 10000, int32_t partition = RD_KAFKA_PARTITION_UA) {
    if (producer_ == nullptr || batch_messages != producer_batch_) {
      if (producer_ != nullptr) rd_kafka_destroy(producer_);
      producer_batch_ = batch_messages;
      char err[512];
      rd_kafka_conf_t* conf = rd_kafka_conf_new();
      rd_kafka_conf_set(conf, "batch.num.messages", std::to_string(batch_messages).c_str(), err,
                        sizeof err);
      rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err);
      rd_kafka_conf_set(conf, "compression.type", "zstd", err, sizeof err);
      rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
      producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    }
    for (const std::string& line : lines) {
      for (;;) {
        const rd_kafka_resp_err_t e = rd_kafka_producev(
            producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer_, 10);
          continue;
        }
        ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR);
        break;
      }
    }
    ASSERT_EQ(rd_kafka_flush(producer_, 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Reads every message of a topic from the beginning (assign, no group); value and headers.
  struct Record {
    std::string value;
    std::map<std::string, std::string> headers;
  };
  std::vector<Record> ReadAll(const std::string& topic, int partitions, size_t expected) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "reader", err, sizeof err);
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    std::vector<Record> out;
    for (int idle = 0; out.size() < expected && idle < 100;) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (m == nullptr) {
        ++idle;
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Record r;
        r.value.assign(static_cast<const char*>(m->payload), m->len);
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* value;
          size_t size;
          for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &value, &size); ++i) {
            r.headers[name] = std::string(static_cast<const char*>(value), size);
          }
        }
        out.push_back(std::move(r));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return out;
  }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  rd_kafka_t* producer_ = nullptr;
  int producer_batch_ = 0;
  std::string bootstraps_;
};

}  // namespace smetsmon::testing
