// Generated traffic sent to the mock cluster, with the generator's exact truth, for the daemon's
// end-to-end tests.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "catalog/reference_data.h"
#include "gen/generator.h"
#include "smetsmon/clock.h"
#include "testing/mock_kafka.h"

namespace smetsmon::testing {

struct ProducedTraffic {
  std::vector<std::string> lines;
  gen::GeneratedTruth truth;
};

// Creates the topic and its dead-letter topic, generates `premises` x `hours` of traffic and
// produces every line to `topic`.
// With `inventory_csv`, also writes the fleet's inventory there.
inline ProducedTraffic ProduceGenerated(MockKafka& kafka, const catalog::ReferenceData& ref,
                                        const gen::GeneratorConfig& config,
                                        const std::string& topic, int partitions,
                                        const std::string& inventory_csv);

inline ProducedTraffic ProduceTraffic(MockKafka& kafka, const catalog::ReferenceData& ref,
                                      uint64_t premises, int64_t hours,
                                      const std::string& topic = "smets.alerts",
                                      const std::string& inventory_csv = "") {
  gen::GeneratorConfig traffic;
  traffic.premises = premises;
  traffic.duration_ms = hours * kMsPerHour;
  return ProduceGenerated(kafka, ref, traffic, topic, 4, inventory_csv);
}

// `config`'s traffic produced to `topic` (created with `partitions`, and its dead-letter topic),
// with the fleet's inventory written to `inventory_csv` when given.
inline ProducedTraffic ProduceGenerated(MockKafka& kafka, const catalog::ReferenceData& ref,
                                        const gen::GeneratorConfig& config,
                                        const std::string& topic, int partitions,
                                        const std::string& inventory_csv = "") {
  kafka.CreateTopic(topic, partitions);
  kafka.CreateTopic(topic + ".dlq", 1);
  gen::Generator g(*ref.areas, *ref.catalogue, config);
  ProducedTraffic out;
  g.Run([&](std::string_view l) { out.lines.emplace_back(l); });
  out.truth = g.truth();
  if (!inventory_csv.empty()) {
    std::ofstream inventory(inventory_csv);
    g.WriteInventoryCsv(inventory);
  }
  kafka.Produce(topic, out.lines);
  return out;
}

// A day of generated traffic from `premises` ending at the current minute (for tests on the
// system clock), produced to 4 partitions of `topic`.
inline ProducedTraffic ProduceDayEndingNow(MockKafka& kafka, const catalog::ReferenceData& ref,
                                           uint64_t premises, const std::string& topic,
                                           const std::string& inventory_csv) {
  gen::GeneratorConfig config;
  config.premises = premises;
  const int64_t now_ms = SystemClock().Now().ms;
  config.start_ms = (now_ms / kMsPerMinute) * kMsPerMinute - 24 * kMsPerHour;
  config.duration_ms = 24 * kMsPerHour;
  return ProduceGenerated(kafka, ref, config, topic, 4, inventory_csv);
}

}  // namespace smetsmon::testing
