// Generated traffic sent to the mock cluster, with the generator's exact truth, for the daemon's
// end-to-end tests.
#pragma once

#include <fstream>
#include <functional>
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

enum class Partitioning {
  kSticky,    // no key: librdkafka's sticky partitioner writes long chunks to one partition after
              // another (each partition's stream jumps hours in event time)
  kByDevice,  // as a real source keyed by device: each partition holds its devices in time order
};

// `config`'s traffic produced to `topic` (created with `partitions`, and its dead-letter topic),
// with the fleet's inventory written to `inventory_csv` when given.
inline ProducedTraffic ProduceGenerated(MockKafka& kafka, const catalog::ReferenceData& ref,
                                        const gen::GeneratorConfig& config,
                                        const std::string& topic, int partitions,
                                        const std::string& inventory_csv = "",
                                        Partitioning partitioning = Partitioning::kSticky) {
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
  if (partitioning == Partitioning::kSticky) {
    kafka.Produce(topic, out.lines);
    return out;
  }
  std::vector<std::vector<std::string>> by_partition(static_cast<size_t>(partitions));
  for (const std::string& line : out.lines) {
    const size_t at = line.find("\"device_id\"");
    const std::string key = at == std::string::npos ? "" : line.substr(at, 40);
    by_partition[std::hash<std::string>()(key) % by_partition.size()].push_back(line);
  }
  for (int p = 0; p < partitions; ++p) {
    kafka.Produce(topic, by_partition[static_cast<size_t>(p)], 10000, p);
  }
  return out;
}

// Creates the topic and its dead-letter topic, generates `premises` x `hours` of traffic and
// produces every line to `topic`.
// With `inventory_csv`, also writes the fleet's inventory there.
inline ProducedTraffic ProduceTraffic(MockKafka& kafka, const catalog::ReferenceData& ref,
                                      uint64_t premises, int64_t hours,
                                      const std::string& topic = "smets.alerts",
                                      const std::string& inventory_csv = "") {
  gen::GeneratorConfig traffic;
  traffic.premises = premises;
  traffic.duration_ms = hours * kMsPerHour;
  return ProduceGenerated(kafka, ref, traffic, topic, 4, inventory_csv);
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
