#include "gen/kafka_loadgen.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/fields.h"
#include "base/json_writer.h"

namespace smetsmon::gen {
namespace {

struct Delivery {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(opaque);
  (m->err ? d->failed : d->ok).fetch_add(1, std::memory_order_relaxed);
}

// The device id of a generated line (the message key), or empty for a malformed one.
std::string_view KeyOf(std::string_view line) {
  constexpr std::string_view kField = "\"device_id\":\"";
  const size_t at = line.find(kField);
  if (at == std::string_view::npos || at + kField.size() + 23 > line.size()) return {};
  return line.substr(at + kField.size(), 23);
}

// Event time of a generated line: integer ms or RFC 3339, as the generator writes them.
int64_t EventTimeOf(std::string_view line);

}  // namespace

std::string LoadgenReport::ToJson() const {
  return absl::StrCat("{\"sent\":", sent, ",\"delivered\":", delivered, ",\"failed\":", failed,
                      ",\"truth\":", truth.ToJson(), "}");
}

KafkaLoadgen::KafkaLoadgen(const catalog::AreaTable& areas,
                           const catalog::AlertCatalogue& catalogue, GeneratorConfig traffic,
                           LoadgenConfig config, const Clock& clock)
    : areas_(&areas),
      catalogue_(&catalogue),
      traffic_(std::move(traffic)),
      config_(std::move(config)),
      clock_(&clock) {}

absl::StatusOr<LoadgenReport> KafkaLoadgen::Run() {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, std::string> props[] = {
      {"bootstrap.servers", config_.bootstrap_servers},
      {"compression.type", config_.compression},
      {"linger.ms", "20"},
      {"batch.num.messages", "10000"},
      {"queue.buffering.max.messages", "1000000"},
  };
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("loadgen: ", k, ": ", err));
    }
  }
  Delivery delivery;
  rd_kafka_conf_set_opaque(conf, &delivery);
  rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (producer == nullptr) return absl::InvalidArgumentError(absl::StrCat("loadgen: ", err));

  Generator generator(*areas_, *catalogue_, traffic_);
  const int64_t start_ns = clock_->MonotonicNs();
  uint64_t sent = 0;
  generator.Run(
      [&](std::string_view line) {
        if (stop_.load(std::memory_order_relaxed)) return;
        if (config_.pace_to_clock) {
          const int64_t due = EventTimeOf(line);
          while (due > clock_->Now().ms && !stop_.load(std::memory_order_relaxed)) {
            rd_kafka_poll(producer, 50);
          }
        } else if (config_.rate_per_s > 0) {
          const auto due_ns =
              start_ns + static_cast<int64_t>(static_cast<double>(sent) * 1e9 / config_.rate_per_s);
          while (clock_->MonotonicNs() < due_ns) {
            rd_kafka_poll(producer, 0);
            if (due_ns - clock_->MonotonicNs() > 2'000'000) {
              std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
          }
        }
        const std::string_view key = KeyOf(line);
        for (;;) {
          const rd_kafka_resp_err_t e =
              rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(config_.topic.c_str()),
                                RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(line.data()), line.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
          if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(producer, 10);
            continue;
          }
          if (e != RD_KAFKA_RESP_ERR_NO_ERROR) delivery.failed.fetch_add(1);
          break;
        }
        ++sent;
        sent_.store(sent, std::memory_order_relaxed);
        if ((sent & 0x3FF) == 0) rd_kafka_poll(producer, 0);
      },
      &stop_);
  rd_kafka_flush(producer, 60'000);
  rd_kafka_destroy(producer);
  LoadgenReport report;
  report.sent = sent;
  report.delivered = delivery.ok.load();
  report.failed = delivery.failed.load();
  report.truth = generator.truth();
  return report;
}

namespace {
int64_t EventTimeOf(std::string_view line) {
  constexpr std::string_view kField = "\"event_time\":";
  const size_t at = line.find(kField);
  if (at == std::string_view::npos) return 0;
  std::string_view v = line.substr(at + kField.size());
  if (!v.empty() && v[0] == '"') {
    const size_t end = v.find('"', 1);
    const auto ms = ParseRfc3339Utc(v.substr(1, end == std::string_view::npos ? 0 : end - 1));
    return ms.value_or(0);
  }
  int64_t ms = 0;
  for (char c : v) {
    if (c < '0' || c > '9') break;
    ms = ms * 10 + (c - '0');
  }
  return ms;
}
}  // namespace

}  // namespace smetsmon::gen
