// Produces generated traffic to a Kafka topic (the load generator behind `smetsmon-loadgen` and
// `smetsmon demo`): each line keyed by its device id, zstd-compressed, at a target rate or as fast
// as possible, or paced to the wall clock (each event sent when its event time comes).
// Reports exactly what it sent (the generator's truth plus delivery counts) so tests reconcile.
//
// Thread-safety: Run on one thread; Stop from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "gen/generator.h"
#include "smetsmon/clock.h"

namespace smetsmon::gen {

struct LoadgenConfig {
  std::string bootstrap_servers;
  std::string topic = "smets.alerts";
  double rate_per_s = 0;       // 0: as fast as possible
  bool pace_to_clock = false;  // send each line when the wall clock reaches its event time
  std::string compression = "zstd";
};

struct LoadgenReport {
  uint64_t sent = 0;       // lines handed to the producer
  uint64_t delivered = 0;  // acknowledged by the brokers
  uint64_t failed = 0;
  GeneratedTruth truth;  // what the lines were
  std::string ToJson() const;
};

class KafkaLoadgen {
 public:
  KafkaLoadgen(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
               GeneratorConfig traffic, LoadgenConfig config, const Clock& clock);
  // Produces the whole generated traffic (or until Stop), then flushes.
  absl::StatusOr<LoadgenReport> Run();
  void Stop() { stop_.store(true, std::memory_order_relaxed); }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

 private:
  const catalog::AreaTable* areas_;
  const catalog::AlertCatalogue* catalogue_;
  GeneratorConfig traffic_;
  LoadgenConfig config_;
  const Clock* clock_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
};

}  // namespace smetsmon::gen
