#include "ingest/kafka_client_probe.h"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace smetsmon::ingest {

void KafkaClientProbe::OnLog(int level, std::string_view facility, std::string_view message) const {
  // syslog levels: 0-3 emergency..error, 4 warning, 5-6 notice/info, 7 debug.
  const LogLevel ours = level <= 3   ? LogLevel::kError
                        : level == 4 ? LogLevel::kWarn
                        : level <= 6 ? LogLevel::kInfo
                                     : LogLevel::kDebug;
  Log(ours, "librdkafka",
      {{"client", client_},
       {"facility", std::string(facility)},
       {"message", std::string(message)}});
}

void KafkaClientProbe::OnError(int code, std::string_view reason) {
  const auto err = static_cast<rd_kafka_resp_err_t>(code);
  // Transport errors (a broker down, a refused connection) are what librdkafka recovers from by
  // itself; a fatal one ends the client and needs a restart.
  const bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
  Log(fatal ? LogLevel::kError : LogLevel::kWarn, "kafka client error",
      {{"client", client_}, {"error", rd_kafka_err2name(err)}, {"reason", std::string(reason)}});
  std::lock_guard lock(mu_);
  ++state_.errors[rd_kafka_err2name(err)];
  state_.fatal = state_.fatal || fatal;
}

void KafkaClientProbe::OnStatistics(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    Log(LogLevel::kWarn, "kafka statistics unreadable", {{"client", client_}});
    return;
  }
  std::map<std::string, int64_t> broker_states;
  simdjson::dom::object brokers;
  if (doc["brokers"].get(brokers) == simdjson::SUCCESS) {
    for (auto [name, broker] : brokers) {
      // Only the cluster's brokers: not the bootstrap addresses (nodeid -1 until learned) nor the
      // logical coordinator connections (source "logical", a second entry for a real broker).
      int64_t node = -1;
      if (broker["nodeid"].get(node) != simdjson::SUCCESS || node < 0) continue;
      std::string_view source;
      if (broker["source"].get(source) == simdjson::SUCCESS &&
          (source == "logical" || source == "internal")) {
        continue;
      }
      std::string_view state;
      if (broker["state"].get(state) != simdjson::SUCCESS) continue;
      ++broker_states[std::string(state)];
    }
  }
  int64_t fetch_messages = 0, fetch_bytes = 0;
  simdjson::dom::object topics;
  if (doc["topics"].get(topics) == simdjson::SUCCESS) {
    for (auto [topic_name, topic] : topics) {
      simdjson::dom::object partitions;
      if (topic["partitions"].get(partitions) != simdjson::SUCCESS) continue;
      for (auto [id, partition] : partitions) {
        if (id == "-1") continue;  // the topic's unassigned-messages pseudo partition
        int64_t count = 0, size = 0;
        if (partition["fetchq_cnt"].get(count) == simdjson::SUCCESS) fetch_messages += count;
        if (partition["fetchq_size"].get(size) == simdjson::SUCCESS) fetch_bytes += size;
      }
    }
  }
  std::lock_guard lock(mu_);
  // Every state seen before stays, at 0 when no broker is in it now (a series does not vanish).
  for (auto& [state, count] : state_.broker_states) count = 0;
  for (const auto& [state, count] : broker_states) state_.broker_states[state] = count;
  state_.fetch_queue_messages = fetch_messages;
  state_.fetch_queue_bytes = fetch_bytes;
  ++state_.statistics;
}

KafkaClientSnapshot KafkaClientProbe::Snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

}  // namespace smetsmon::ingest
