// What librdkafka says about itself, made visible: its log lines become structured log lines, its
// errors (error_cb) a log line and a counter by error name, its statistics (stats_cb, every
// `statistics.interval.ms`) a few bounded gauges: brokers by connection state and the consumer's
// local fetch queue. One probe per librdkafka client (the consumer, the dead-letter producer).
//
// Cardinality: error names are librdkafka's enum (a fixed set), broker states its state machine's
// names; nothing from a message or a broker address becomes a label.
// The C callbacks are in kafka_source.cc (librdkafka's opaque is the KafkaIngest, which owns one
// probe per client); `statistics.interval.ms` defaults to 10 s there.
// Thread-safety: librdkafka calls the callbacks on the thread that polls the client (error and
// statistics) or on its own threads (log); Snapshot may be called from any thread. A mutex guards
// the few fields: callbacks come at most a few times a second, never per message.
// Time domain: none (librdkafka's statistics carry their own time stamps, unused here).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace smetsmon::ingest {

struct KafkaClientSnapshot {
  std::map<std::string, uint64_t> errors;        // error name -> times reported
  std::map<std::string, int64_t> broker_states;  // state -> brokers in it (last statistics)
  int64_t fetch_queue_messages = 0;              // consumer: messages fetched, not yet consumed
  int64_t fetch_queue_bytes = 0;
  uint64_t statistics = 0;  // statistics reports received
  bool fatal = false;       // a fatal error was reported: the client is unusable
};

class KafkaClientProbe {
 public:
  // `client` names the client in log lines and labels: "consumer" or "dead_letter_producer".
  explicit KafkaClientProbe(std::string client) : client_(std::move(client)) {}

  void OnLog(int level, std::string_view facility, std::string_view message) const;
  void OnError(int err, std::string_view reason);  // err: an rd_kafka_resp_err_t
  // Parses one statistics JSON document; a document it cannot read is counted, not fatal.
  void OnStatistics(std::string_view json);

  KafkaClientSnapshot Snapshot() const;
  const std::string& client() const { return client_; }

 private:
  const std::string client_;
  mutable std::mutex mu_;
  KafkaClientSnapshot state_;
};

}  // namespace smetsmon::ingest
