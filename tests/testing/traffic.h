// Generated traffic sent to the mock cluster, with the generator's exact truth, for the daemon's
// end-to-end tests.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "catalog/reference_data.h"
#include "gen/generator.h"
#include "testing/mock_kafka.h"

namespace smetsmon::testing {

struct ProducedTraffic {
  std::vector<std::string> lines;
  gen::GeneratedTruth truth;
};

// Creates the topic and its dead-letter topic, generates `premises` x `hours` of traffic and
// produces every line to `topic`.
// With `inventory_csv`, also writes the fleet's inventory there.
inline ProducedTraffic ProduceTraffic(MockKafka& kafka, const catalog::ReferenceData& ref,
                                      uint64_t premises, int64_t hours,
                                      const std::string& topic = "smets.alerts",
                                      const std::string& inventory_csv = "") {
  kafka.CreateTopic(topic, 4);
  kafka.CreateTopic(topic + ".dlq", 1);
  gen::GeneratorConfig traffic;
  traffic.premises = premises;
  traffic.duration_ms = hours * kMsPerHour;
  gen::Generator g(*ref.areas, *ref.catalogue, traffic);
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

}  // namespace smetsmon::testing
