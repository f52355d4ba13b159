// The pipeline: routing, the one stream time, rules on the minute grid, rejects handed back with
// their batch, tasks between batches, the drain at stop; and the same answers whatever the number
// of workers or the batch size.
#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/fields.h"
#include "gen/generator.h"
#include "ingest/replay.h"
#include "report/gonogo_report.h"
#include "testing/fixtures.h"
#include "testing/pipeline.h"

namespace smetsmon::pipeline {
namespace {

constexpr int64_t kT0 = 1687780800000;  // 2023-06-26T12:00:00Z, a whole minute
const ProcessingTime kNow{kT0 + kMsPerDay};

std::string Alert(int device, int64_t t_ms, int serial, const std::string& code = "8F40") {
  return absl::StrFormat(
      R"({"alert_id":"a-%d-%d","device_id":"00-DB-12-34-56-78-%02X-%02X","alert_code":"%s",)"
      R"("event_time":%d,"dcc_time":%d,"smets":2,"gsp_group":"_C"})",
      device, serial, (device >> 8) & 0xFF, device & 0xFF, code, t_ms, t_ms + 2000);
}

class PipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Pipeline> Make(size_t workers, bool rules) {
    PipelineConfig c = testing::TestPipelineConfig(rules);
    c.engine.workers = workers;
    return testing::MakePipeline(c, clock_);
  }
  // Submits and waits for every batch; returns the batches handed back.
  std::vector<std::unique_ptr<SourceBatch>> Run(Pipeline& p,
                                                std::vector<std::vector<std::string>> batches) {
    std::vector<std::unique_ptr<SourceBatch>> done;
    for (auto& lines : batches)
      p.Submit(std::make_unique<testing::OwnedBatch>(kNow, std::move(lines)));
    p.Finish([&](std::unique_ptr<SourceBatch> b) { done.push_back(std::move(b)); });
    return done;
  }
  ManualClock clock_{kNow};
};

TEST_F(PipelineTest, EveryMessageIsAppliedOrRejectedAndTheRejectsComeBackWithTheirBatch) {
  auto p = Make(3, false);
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) lines.push_back(Alert(i % 17, kT0 + i * 1000, i));
  lines[5] = "not json";
  lines[77] = R"({"device_id":"00-DB-12-34-56-78-90-A0","event_time":1})";  // no alert_id
  // The scan routes by the first device_id; the decoder keeps the last: ambiguous, refused.
  lines[150] = R"({"alert_id":"d","device_id":"00-DB-12-34-56-78-00-01","alert_code":"8F40",)"
               R"("event_time":1687780800000,"device_id":"00-DB-12-34-56-78-00-02"})";
  auto done = Run(*p, {lines});
  ASSERT_EQ(done.size(), 1u);
  const std::vector<std::pair<uint32_t, RejectReason>> expected = {
      {5, RejectReason::kNotJson},
      {77, RejectReason::kMissingField},
      {150, RejectReason::kAmbiguous}};
  EXPECT_EQ(done[0]->rejected, expected);
  const aggregate::CounterTotals c = p->engine().Counters();
  EXPECT_EQ(c.accepted, 197u);
  EXPECT_EQ(c.rejected_total(), 3u);
  const PipelineStats s = p->stats();
  EXPECT_EQ(s.messages_applied, 200u);
  EXPECT_EQ(s.router_fallbacks, 1u);  // "not json": the others scan, and their workers reject
  for (size_t depth : s.queue_depth) EXPECT_EQ(depth, 0u);
  uint64_t batches = 0;
  for (uint64_t n : s.latency_counts) batches += n;
  EXPECT_EQ(batches, 1u);
}

// One stream time for the engine: an event is late by the newest event read before it in input
// order, whichever worker owns either.
TEST_F(PipelineTest, LatenessIsJudgedAgainstTheStreamTimeOfTheWholeInput) {
  for (size_t workers : {1, 4}) {
    auto p = Make(workers, false);
    // Two devices owned by different workers (when there are several).
    const auto id = [](int d) {
      return *ParseDeviceId(absl::StrFormat("00-DB-12-34-56-78-%02X-%02X", d >> 8, d & 0xFF));
    };
    int other = 2;
    while (workers > 1 &&
           p->engine().WorkerIndexFor(id(other)) == p->engine().WorkerIndexFor(id(1))) {
      ++other;
    }
    // Device 1 moves the stream two hours on; the other device's event, an hour and a half
    // older, is then late for the 1 h window although its own worker has seen nothing newer.
    Run(*p, {{Alert(1, kT0, 1), Alert(1, kT0 + 2 * kMsPerHour, 2),
              Alert(other, kT0 + 30 * kMsPerMinute, 3)}});
    const aggregate::CounterTotals c = p->engine().Counters();
    EXPECT_EQ(c.accepted, 3u) << workers;
    EXPECT_EQ(c.late_1h, 1u) << workers;
    EXPECT_EQ(p->engine().StreamTime().ms, kT0 + 2 * kMsPerHour) << workers;
  }
}

TEST_F(PipelineTest, RulesEvaluateOnTheMinuteGridWhateverTheBatches) {
  for (size_t batch : {1, 7, 1000}) {
    auto p = Make(2, true);
    std::vector<std::string> all;
    // Events every 10 s for 5 minutes, then a 30-minute gap, then one more.
    for (int i = 0; i < 30; ++i) all.push_back(Alert(i % 5, kT0 + 5000 + i * 10'000, i));
    all.push_back(Alert(9, kT0 + 35 * kMsPerMinute + 5000, 99));
    std::vector<std::vector<std::string>> batches;
    for (size_t i = 0; i < all.size(); i += batch) {
      batches.emplace_back(all.begin() + i, all.begin() + std::min(all.size(), i + batch));
    }
    std::vector<int64_t> evaluated;
    p->set_on_evaluated([&] { evaluated.push_back(p->evaluator()->Snapshot().evaluated_at.ms); });
    Run(*p, batches);
    p->Stop();
    // Minutes 1..4 as the events cross them, the minute after the last of them and the last
    // minute before the late event (the gap), then the end of the stream.
    const std::vector<int64_t> expected = {kT0 + 1 * kMsPerMinute,        kT0 + 2 * kMsPerMinute,
                                           kT0 + 3 * kMsPerMinute,        kT0 + 4 * kMsPerMinute,
                                           kT0 + 5 * kMsPerMinute,        kT0 + 35 * kMsPerMinute,
                                           kT0 + 35 * kMsPerMinute + 5000};
    EXPECT_EQ(evaluated, expected) << "batch " << batch;
  }
}

TEST_F(PipelineTest, IdleAdvanceMovesTheStreamTimeAndKeepsTheGrid) {
  auto p = Make(2, true);
  std::vector<int64_t> evaluated;
  p->set_on_evaluated([&] { evaluated.push_back(p->evaluator()->Snapshot().evaluated_at.ms); });
  p->Submit(std::make_unique<testing::OwnedBatch>(
      kNow, std::vector<std::string>{Alert(1, kT0 + 1000, 1)}));
  // Nothing more arrives; ten minutes of processing time later the stream is idle.
  clock_.Set(ProcessingTime{kT0 + 15 * kMsPerMinute});
  p->AdvanceIdle(clock_.Now());  // stream time: now - 5 min = kT0 + 10 min
  p->Finish({});
  p->Stop();
  const int64_t idle_to = kT0 + 15 * kMsPerMinute - aggregate::EngineConfig{}.idle_lag_ms;
  EXPECT_EQ(p->engine().StreamTime().ms, idle_to);
  const std::vector<int64_t> expected = {kT0 + kMsPerMinute, idle_to, idle_to};
  EXPECT_EQ(evaluated, expected);
}

// Messages that do not move the stream past a minute (a backlog's partitions read out of order)
// are judged when the stream goes idle: once more at the last minute reached, and only once.
TEST_F(PipelineTest, AnIdleStreamJudgesWhatCameSinceTheLastEvaluation) {
  auto p = Make(2, true);
  std::vector<int64_t> evaluated;
  p->set_on_evaluated([&] { evaluated.push_back(p->evaluator()->Snapshot().evaluated_at.ms); });
  p->Submit(std::make_unique<testing::OwnedBatch>(
      kNow, std::vector<std::string>{Alert(1, kT0 + 5000, 1),
                                     Alert(2, kT0 + 70'000, 2)}));  // crosses kT0 + 1 min
  p->Submit(std::make_unique<testing::OwnedBatch>(
      kNow, std::vector<std::string>{Alert(3, kT0 + 10'000, 3),
                                     Alert(4, kT0 + 20'000, 4)}));  // older: the stream stays
  p->AdvanceIdle(ProcessingTime{kT0});  // now - idle lag is before the stream: no advance
  p->AdvanceIdle(ProcessingTime{kT0});  // nothing new since: no evaluation
  p->Reap(true, {});
  p->Stop();
  const std::vector<int64_t> expected = {kT0 + kMsPerMinute, kT0 + kMsPerMinute};
  EXPECT_EQ(evaluated, expected);
  const PipelineStats s = p->stats();
  EXPECT_EQ(s.evaluated_messages, 4u);
  EXPECT_EQ(s.messages_submitted, 4u);
  EXPECT_EQ(p->evaluator()->Snapshot().evaluated_at.ms, kT0 + kMsPerMinute);
}

TEST_F(PipelineTest, TasksRunOnTheOwningWorkerBetweenBatchesAndStopDrainsEverything) {
  auto p = Make(2, false);
  const DeviceId device = *ParseDeviceId("00-DB-12-34-56-78-00-07");
  std::vector<std::string> lines;
  for (int i = 0; i < 50; ++i) lines.push_back(Alert(7, kT0 + i * 1000, i));
  p->Submit(std::make_unique<testing::OwnedBatch>(kNow, lines));
  std::atomic<uint32_t> seen{0};
  ASSERT_TRUE(p->RunOnWorker(p->engine().WorkerIndexFor(device), [&](aggregate::Worker& w) {
    const aggregate::DeviceState* s = w.devices().Find(device.value);
    seen = s != nullptr ? s->AlertsIn24h(EventTime{kT0 + 49'000}) : 0;
  }));
  EXPECT_FALSE(p->RunOnWorker(2, [](aggregate::Worker&) {}));
  p->Submit(
      std::make_unique<testing::OwnedBatch>(kNow, std::vector<std::string>{Alert(8, kT0, 99)}));
  p->Stop();                    // applies everything queued, runs the task, then joins
  EXPECT_EQ(seen.load(), 50u);  // the task ran after the first batch, before the second
  EXPECT_EQ(p->stats().messages_applied, 51u);
  EXPECT_EQ(p->engine().Counters().accepted, 51u);
  size_t handed_back = 0;
  p->Reap(true, [&](std::unique_ptr<SourceBatch>) { ++handed_back; });
  EXPECT_EQ(handed_back, 2u);
}

// The composition root wires the daily Go/No-Go decision to its history files.
TEST(PipelineOutputsTest, TheDailyDecisionIsWrittenToTheHistoryDirectory) {
  const std::string config_dir = testing::TempPath("config");
  const std::string history = testing::TempPath("history");
  std::filesystem::remove_all(config_dir);
  std::filesystem::remove_all(history);
  std::filesystem::create_directories(config_dir);
  for (const char* f : {"areas.yaml", "alert_catalogue.yaml", "rules.yaml"}) {
    std::filesystem::copy_file(testing::ConfigDir() + "/" + f, config_dir + "/" + f);
  }
  std::ifstream in(config_dir + "/rules.yaml");
  std::string rules((std::istreambuf_iterator<char>(in)), {});
  const size_t at = rules.find("history_dir: \"\"");
  ASSERT_NE(at, std::string::npos);
  rules.replace(at, 15, "history_dir: \"" + history + "\"");
  testing::WriteFile(config_dir + "/rules.yaml", rules);
  // Six hours from midnight UTC: past the 06:00 local (05:00 UTC) decision of 26 June 2023.
  const std::string day = testing::TempPath("day.jsonl");
  {
    auto ref = testing::LoadTestReference();
    gen::GeneratorConfig g;
    g.premises = 2000;
    g.duration_ms = 6 * kMsPerHour;
    std::ofstream out(day, std::ios::binary);
    gen::Generator(*ref.areas, *ref.catalogue, g).Run([&](std::string_view l) {
      out << l << '\n';
    });
  }
  PipelineConfig c = testing::TestPipelineConfig(/*rules=*/true);
  c.reference.config_dir = config_dir;
  ManualClock clock(kNow);
  auto p = testing::MakePipeline(c, clock);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(ingest::ReplayFiles({day}, *p, clock, {}).ok());
  p->Stop();
  const rules::RulesSnapshot snap = p->evaluator()->Snapshot();
  ASSERT_EQ(snap.gonogo_history.size(), 1u);
  EXPECT_EQ(snap.gonogo_history[0].local_date, "2023-06-26");
  const auto json = testing::ReadLines(history + "/gonogo-2023-06-26.json");
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0], report::GoNoGoToJson(snap.gonogo_history[0]));
  EXPECT_TRUE(std::filesystem::exists(history + "/gonogo-2023-06-26.txt"));
}

// The generator's day with its scenarios (floods, a power cut, a comms incident, duplicates,
// late and malformed lines), replayed by the command with 1 and 4 workers and different batch
// sizes: the reports (every count, window, finding with its id and start, what-if, Go/No-Go) are
// the same, byte for byte.
TEST(PipelineDeterminismTest, ReplayReportsAreTheSameWithAnyWorkerCountOrBatchSize) {
  const std::string day = testing::TempPath("day.jsonl");
  const std::string inventory = testing::TempPath("inventory.csv");
  const auto gen = testing::RunCommand(std::string(SMETSMON_BINARY) + " generate --out " + day +
                                       " --inventory-out " + inventory + " --config " +
                                       testing::ConfigDir() + " --premises 30000 --hours 30 2>&1");
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  const auto report = [&](int workers, int batch) {
    const auto r = testing::RunCommand(
        absl::StrCat(SMETSMON_BINARY, " replay ", day, " --config ", testing::ConfigDir(),
                     " --inventory ", inventory, " --report json --no-progress --workers ", workers,
                     " --batch-lines ", batch, " 2>/dev/null | tail -1"));
    EXPECT_EQ(r.exit_code, 0);
    return r.out;
  };
  const std::string one = report(1, 4096);
  ASSERT_NE(one.find("\"findings\""), std::string::npos) << one.substr(0, 500);
  // The scenarios are there to compare: findings of several kinds, duplicates, late lines.
  for (const char* kind : {"\"storm\"", "\"power_outage\"", "\"comms_incident\""}) {
    EXPECT_NE(one.find(kind), std::string::npos) << kind;
  }
  EXPECT_EQ(report(4, 4096), one);
  EXPECT_EQ(report(4, 97), one);
  EXPECT_EQ(report(2, 1000), one);

  // With the noisy devices' tables far too small for the day, what they keep and turn away is
  // the same too: the capacities are quotas per virtual shard, not per worker.
  const std::string tight = testing::TempPath("tight-config");
  std::filesystem::remove_all(tight);
  std::filesystem::copy(testing::ConfigDir(), tight, std::filesystem::copy_options::recursive);
  std::string rules;
  {
    std::ifstream in(tight + "/rules.yaml");
    rules.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t from = rules.find("noisy_devices:");
  const size_t to = rules.find('}', from);
  ASSERT_NE(to, std::string::npos);
  rules.replace(from, to + 1 - from,
                "noisy_devices: {threshold_24h: 20, top_k: 20, capacity: 64, track_codes_from: 3, "
                "track_capacity: 128}");
  std::ofstream(tight + "/rules.yaml") << rules;
  const auto tight_report = [&](int workers) {
    const auto r = testing::RunCommand(absl::StrCat(
        SMETSMON_BINARY, " replay ", day, " --config ", tight, " --inventory ", inventory,
        " --report json --no-progress --workers ", workers, " 2>/dev/null | tail -1"));
    EXPECT_EQ(r.exit_code, 0);
    return r.out;
  };
  const std::string tight_one = tight_report(1);
  for (const char* turned_away : {"\"alerts_dropped\":", "\"alerts_codes_untracked\":"}) {
    const size_t at = tight_one.find(turned_away);
    ASSERT_NE(at, std::string::npos) << turned_away;
    EXPECT_GT(std::atoll(tight_one.c_str() + at + std::strlen(turned_away)), 0) << turned_away;
  }
  EXPECT_EQ(tight_report(4), tight_one);
}

}  // namespace
}  // namespace smetsmon::pipeline
