// End to end on generated traffic: the generator knows exactly what it wrote (its truth); a
// replay through decoder, dedup, device state and windows must count the same, and the scenarios
// must be visible in the windows.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "aggregate/engine.h"
#include "base/fields.h"
#include "gen/generator.h"
#include "ingest/replay.h"
#include "testing/fixtures.h"
#include "testing/pipeline.h"

namespace smetsmon {
namespace {

class ScenarioTest : public ::testing::Test {
 protected:
  ScenarioTest() : ref_(testing::LoadTestReference()) {}

  // Generates into a file and replays it with `workers` workers; returns the pipeline.
  std::unique_ptr<pipeline::Pipeline> GenerateAndReplay(const gen::GeneratorConfig& config,
                                                        size_t workers,
                                                        gen::GeneratedTruth* truth) {
    const std::string path = testing::TempPath("gen.jsonl");
    {
      std::ofstream out(path, std::ios::binary);
      gen::Generator g(*ref_.areas, *ref_.catalogue, config);
      g.Run([&](std::string_view line) { out << line << '\n'; });
      *truth = g.truth();
    }
    pipeline::PipelineConfig pipeline_config = testing::TestPipelineConfig();
    pipeline_config.engine.workers = workers;
    auto p = testing::MakePipeline(pipeline_config, clock_);
    auto lines = ingest::ReplayFiles({path}, *p, clock_, {});
    EXPECT_TRUE(lines.ok()) << lines.status();
    EXPECT_EQ(*lines, truth->lines);
    return p;
  }

  std::map<std::string, uint64_t> ByCategory(const std::vector<uint64_t>& cells,
                                             const aggregate::Engine& engine) {
    std::map<std::string, uint64_t> out;
    const auto& l = engine.layout();
    for (size_t a = 0; a < l.area_slots(); ++a) {
      for (size_t c = 0; c < l.code_slots(); ++c) {
        for (Generation g : {Generation::kSmets1, Generation::kSmets2}) {
          const uint64_t n = cells[l.MainCell(a, c, g)];
          if (n) out[ref_.catalogue->categories()[l.CategoryOfSlot(c)]] += n;
        }
      }
    }
    return out;
  }

  catalog::ReferenceData ref_;
  ManualClock clock_{ProcessingTime{4'000'000'000'000}};
};

TEST_F(ScenarioTest, ReplayCountsEqualTheGeneratorsTruth) {
  gen::GeneratorConfig config;
  config.premises = 20000;
  config.duration_ms = 27 * kMsPerHour;  // long enough for late redeliveries (> 24 h + 5 min old)
  gen::GeneratedTruth truth;
  auto p = GenerateAndReplay(config, 1, &truth);
  const aggregate::Engine* engine = &p->engine();
  const aggregate::CounterTotals c = engine->Counters();
  EXPECT_GT(truth.duplicates, 0u);
  EXPECT_GT(truth.late, 0u);
  EXPECT_EQ(c.accepted, truth.unique_valid);
  EXPECT_EQ(c.duplicates, truth.duplicates);
  EXPECT_EQ(c.late_24h, truth.late);
  EXPECT_EQ(c.accepted + c.duplicates + c.rejected_total(), truth.lines);
  for (const auto& [reason, n] : truth.rejected) {
    int index = -1;
    for (int i = 0; i < kRejectReasonCount; ++i) {
      if (kRejectReasonNames[static_cast<size_t>(i)] == reason) index = i;
    }
    ASSERT_GE(index, 0) << reason;
    EXPECT_EQ(c.rejected[index], n) << reason;
  }
  EXPECT_EQ(ByCategory(engine->Totals(), *engine), truth.alerts_by_category);
}

TEST_F(ScenarioTest, ShardedReplayCountsTheSame) {
  gen::GeneratorConfig config;
  config.premises = 5000;
  config.duration_ms = 6 * kMsPerHour;
  gen::GeneratedTruth truth;
  auto one_p = GenerateAndReplay(config, 1, &truth);
  auto three_p = GenerateAndReplay(config, 3, &truth);
  const aggregate::Engine* one = &one_p->engine();
  const aggregate::Engine* three = &three_p->engine();
  EXPECT_EQ(one->Totals(), three->Totals());
  const EventTime now = one->StreamTime();
  EXPECT_EQ(now, three->StreamTime());
  // Main cells are laid out by area and code: equal cell by cell. DMC and cohort cells are
  // indexed by label ids, given in the order the workers first decode a label: equal by name.
  const auto by_name = [](const aggregate::Engine& e, const std::vector<uint64_t>& cells) {
    const auto& l = e.layout();
    std::map<std::string, uint64_t> out;
    for (size_t i = 0; i < l.main_cells(); ++i) out["main " + std::to_string(i)] = cells[i];
    // A label's cells by its name: "dmc NAME k" or "cohort NAME k".
    const auto fold = [&](const char* kind, size_t limit, const catalog::SymbolTable& names,
                          auto cell_of) {
      for (size_t id = 0; id < limit; ++id) {
        for (size_t k = 0; k < l.categories(); ++k) {
          const uint64_t n = cells[cell_of(static_cast<uint16_t>(id), k)];
          if (n == 0) continue;
          out[absl::StrCat(kind, " ", std::string(names.Name(static_cast<uint16_t>(id))), " ",
                           k)] += n;
        }
      }
    };
    fold("dmc", l.dmc_limit(), *e.ref().dmcs,
         [&](uint16_t id, size_t k) { return l.DmcCell(id, k); });
    fold("cohort", l.cohort_limit(), *e.ref().cohorts,
         [&](uint16_t id, size_t k) { return l.CohortCell(id, k); });
    return out;
  };
  for (aggregate::View v : aggregate::kAllViews) {
    const auto a = by_name(*one, one->View(v, now));
    EXPECT_EQ(a, by_name(*three, three->View(v, now))) << aggregate::ViewName(v);
    EXPECT_GT(a.size(), one->layout().main_cells()) << "the DMC cells are compared too";
  }
  EXPECT_EQ(one->Counters().duplicates, three->Counters().duplicates);
  EXPECT_EQ(one->Counters().late_1h, three->Counters().late_1h);
}

TEST_F(ScenarioTest, DmcFloodShowsInTheSmets1DmcWindow) {
  gen::GeneratorConfig config;
  config.premises = 20000;
  config.duration_ms = 6 * kMsPerHour;
  config.pf_flood.enabled = false;
  config.power_cut.enabled = false;
  config.comms_incident.enabled = false;
  gen::GeneratedTruth truth;
  auto p = GenerateAndReplay(config, 1, &truth);
  const aggregate::Engine* engine = &p->engine();
  const catalog::ReferenceData& ref = p->ref();
  ASSERT_GT(truth.dmc_flood_alerts, 0u);
  // Over the day, the flooding DMC's SMETS1 voltage alerts dwarf any other DMC's.
  const auto cells = engine->View(aggregate::View::k24h, engine->StreamTime());
  const auto& l = engine->layout();
  const size_t voltage = static_cast<size_t>(ref_.catalogue->CategoryIndexOf("voltage"));
  const uint16_t flooding = ref.dmcs->Find(config.dmc_flood.dmc);
  ASSERT_NE(flooding, 0);
  const uint64_t flood_count = cells[l.DmcCell(flooding, voltage)];
  EXPECT_GE(flood_count, truth.dmc_flood_alerts);
  for (const std::string& other : config.smets1_dmcs) {
    if (other == config.dmc_flood.dmc) continue;
    const uint16_t id = ref.dmcs->Find(other);
    if (id == 0) continue;
    EXPECT_LT(cells[l.DmcCell(id, voltage)] * 5, flood_count) << other;
  }
}

}  // namespace
}  // namespace smetsmon
