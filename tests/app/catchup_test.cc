// A backlog read after downtime: a whole generated day waits in four partitions when the daemon
// starts. librdkafka hands partitions over in long runs (hours of one partition's event time), so
// in arrival order one partition would race ahead of the others. The source merges the
// partitions in event-time order (ingest/event_time_merge.h), the workers do not advance idle
// windows to the wall clock while the backlog is still unread, and the rules judge outage
// signals at their own times. Shown by the counts (no event late for the 1 h level that an
// in-order replay of the same lines would not call late, no duplicate missed), by the rules (the
// day's area power cut is found, as it is live), and by reading the same backlog with other batch
// and fetch sizes: every count and finding is the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/engine.h"
#include "app/daemon.h"
#include "decode/decoder.h"
#include "gen/generator.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"

namespace smetsmon::app {
namespace {

// The late counts of an in-order replay of `lines` through an engine of the same configuration.
aggregate::CounterTotals ReplayInOrder(const catalog::ReferenceData& ref,
                                       const aggregate::EngineConfig& config,
                                       const std::vector<std::string>& lines) {
  aggregate::Engine engine(ref, config);
  decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  const ProcessingTime now = SystemClock().Now();
  for (const std::string& line : lines) {
    AlertEvent e;
    if (decoder.Decode(line, now, &e) == RejectReason::kNone) engine.WorkerFor(e.device).Apply(e);
  }
  return engine.Counters();
}

// What one catch-up of the backlog counted and found.
struct CatchUp {
  aggregate::CounterTotals counters;
  rules::RulesSnapshot snap;
  uint64_t merge_waits = 0;
  // Either would mean some messages went in arrival order: the runs must have none.
  uint64_t merge_passed_over = 0, merge_forced = 0;
};

// Runs the daemon over the backlog in `kafka` until every line is applied and judged, with
// `group` as its consumer group and `tune` applied to its settings.
CatchUp ReadBacklog(testing::MockKafka& kafka, const testing::ProducedTraffic& produced,
                    const std::string& inventory, const std::string& group,
                    const std::function<void(Settings&)>& tune) {
  CatchUp out;
  auto settings = LoadSettings(testing::ConfigDir());
  EXPECT_TRUE(settings.ok()) << settings.status();
  if (!settings.ok()) return out;
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = group;
  // Workers advance idle windows to the wall clock only once every partition is read to its end
  // (KafkaIngest::StreamIdle, tested in kafka_source_test). This test is about the order; a
  // day's idle lag keeps the idle advance out of it altogether.
  settings->engine.idle_lag_ms = 48 * kMsPerHour;
  settings->http_listen = "127.0.0.1:0";
  settings->inventory_path = inventory;
  tune(*settings);
  DaemonHooks hooks;
  bool applied = false, evaluated = false;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t) {
    // The thread outlives this call: it keeps the daemon's address, not the reference parameter.
    client = std::thread([&, daemon = &d] {
      applied = daemon->ingest->WaitForApplied(produced.lines.size(), 120'000);
      // The rules evaluate on the minute grid of stream time; once the stream is idle, the
      // messages applied since the last evaluation are judged at the last minute reached.
      evaluated = testing::WaitUntil(
          [&] {
            const pipeline::PipelineStats ps = daemon->pipeline->stats();
            out.snap = daemon->evaluator->Snapshot();
            return ps.evaluated_messages == ps.messages_submitted &&
                   out.snap.evaluated_at.ms ==
                       daemon->engine->StreamTime().ms / kMsPerMinute * kMsPerMinute;
          },
          30'000, 20);
      out.counters = daemon->engine->Counters();
      const ingest::KafkaStats stats = daemon->ingest->stats();
      out.merge_waits = stats.merge_waits;
      out.merge_passed_over = stats.merge_passed_over;
      out.merge_forced = stats.merge_forced;
      daemon->ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_TRUE(applied);
  EXPECT_TRUE(evaluated);
  return out;
}

// Every finding, open or closed, as one comparable line.
std::vector<std::string> FindingLines(const rules::RulesSnapshot& snap) {
  std::vector<std::string> lines;
  for (const auto* list : {&snap.open_findings, &snap.closed_findings}) {
    for (const rules::Finding& f : *list) {
      std::string line = f.id + " end=" + (f.end ? std::to_string(f.end->ms) : "open");
      for (const auto& [name, value] : f.figures) line += " " + name + "=" + std::to_string(value);
      lines.push_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

class CatchUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_ = testing::TempPath("catchup-inventory.csv");
    // A day ending now, produced as a real source does: keyed by device.
    gen::GeneratorConfig config;
    config.premises = 12000;
    config.start_ms = (SystemClock().Now().ms / kMsPerMinute) * kMsPerMinute - 24 * kMsPerHour;
    produced_ = testing::ProduceGenerated(kafka_, ref_, config, "smets.alerts", 4, inventory_,
                                          testing::Partitioning::kByDevice);
  }

  testing::MockKafka kafka_;
  catalog::ReferenceData ref_ = testing::LoadTestReference();
  std::string inventory_;
  testing::ProducedTraffic produced_;
};

TEST_F(CatchUpTest, ABacklogIsReadInEventTimeOrderAndItsPowerCutIsFound) {
  ASSERT_GT(produced_.truth.power_cut_premises, 0u);
  const CatchUp read = ReadBacklog(kafka_, produced_, inventory_, "catchup", [](Settings&) {});
  EXPECT_EQ(read.merge_passed_over, 0u);
  EXPECT_EQ(read.merge_forced, 0u);

  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok());
  const aggregate::CounterTotals in_order = ReplayInOrder(ref_, settings->engine, produced_.lines);
  EXPECT_EQ(read.counters.accepted, produced_.truth.unique_valid);  // no duplicate missed
  EXPECT_EQ(read.counters.duplicates, in_order.duplicates);
  EXPECT_EQ(read.counters.late_24h, in_order.late_24h);
  EXPECT_EQ(read.counters.late_1h, in_order.late_1h);

  // The power cut: one outage in the cut's area, with every premises the generator cut off.
  const AreaId cut_area = ref_.areas->ByGspGroup(gen::GeneratorConfig().power_cut.gsp_group[1]);
  std::vector<rules::Finding> outages;
  for (const auto* list : {&read.snap.open_findings, &read.snap.closed_findings}) {
    for (const rules::Finding& f : *list) {
      if (f.kind == rules::FindingKind::kPowerOutage) outages.push_back(f);
    }
  }
  ASSERT_EQ(outages.size(), 1u);
  EXPECT_EQ(outages[0].area, cut_area);
  const double cut = static_cast<double>(produced_.truth.power_cut_premises);
  EXPECT_GE(outages[0].figures.at("affected_premises"), 0.95 * cut);
  EXPECT_LE(outages[0].figures.at("affected_premises"), cut);
}

// Small batches and small fetches change the order librdkafka hands the partitions over in and
// where every batch ends; the merged order, and so every count and finding, stays the same.
TEST_F(CatchUpTest, TheSameBacklogGivesTheSameAnswersWhateverTheBatchAndFetchSizes) {
  const CatchUp large = ReadBacklog(kafka_, produced_, inventory_, "catchup-large",
                                    [](Settings& s) { s.engine.workers = 1; });
  const CatchUp small =
      ReadBacklog(kafka_, produced_, inventory_, "catchup-small", [](Settings& s) {
        s.engine.workers = 2;
        s.kafka.batch_size = 64;
        s.kafka.properties["max.partition.fetch.bytes"] = "4096";
        s.kafka.properties["fetch.wait.max.ms"] = "10";
      });
  EXPECT_GT(small.merge_waits, 0u);  // the merge did wait for partitions' next fetches
  for (const CatchUp* run : {&large, &small}) {
    EXPECT_EQ(run->merge_passed_over, 0u);
    EXPECT_EQ(run->merge_forced, 0u);
  }
  EXPECT_EQ(large.counters.accepted, small.counters.accepted);
  EXPECT_EQ(large.counters.duplicates, small.counters.duplicates);
  EXPECT_EQ(large.counters.late_1h, small.counters.late_1h);
  EXPECT_EQ(large.counters.late_24h, small.counters.late_24h);
  EXPECT_EQ(large.counters.rejected_total(), small.counters.rejected_total());
  EXPECT_EQ(large.snap.evaluated_at.ms, small.snap.evaluated_at.ms);
  const std::vector<std::string> large_findings = FindingLines(large.snap);
  EXPECT_FALSE(large_findings.empty());
  EXPECT_EQ(large_findings, FindingLines(small.snap));
}

}  // namespace
}  // namespace smetsmon::app
