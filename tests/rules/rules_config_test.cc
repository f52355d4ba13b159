#include "rules/rules_config.h"

#include <gtest/gtest.h>

#include <string>

#include "base/fields.h"
#include "testing/fixtures.h"

namespace smetsmon::rules {
namespace {

class RulesConfigTest : public ::testing::Test {
 protected:
  RulesConfigTest() : ref_(testing::LoadTestReference()) {}

  absl::StatusOr<RulesConfig> LoadText(const std::string& yaml) {
    const std::string path = testing::TempPath("rules.yaml");
    testing::WriteFile(path, yaml);
    return LoadRulesConfig(path, ref_);
  }
  std::string ErrorOf(const std::string& yaml) {
    auto r = LoadText(yaml);
    return r.ok() ? std::string("(loaded)") : std::string(r.status().message());
  }

  catalog::ReferenceData ref_;
};

constexpr char kMinimal[] =
    "priorities:\n  - {name: urgent, target: 10s}\n  - {name: rest, target: 10m}\n";

TEST_F(RulesConfigTest, ShippedConfigLoads) {
  auto c = LoadRulesConfig(testing::ConfigDir() + "/rules.yaml", ref_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->classes.size(), 4u);
  EXPECT_EQ(c->classes[0].target_ms, 30'000);
  EXPECT_EQ(c->voltage_whatif.size(), 2u);
  EXPECT_EQ(c->voltage_whatif[0].rule.candidates_dv,
            (std::vector<int32_t>{2530, 2550, 2580, 2600}));
  EXPECT_EQ(c->dno_floods.at(0).threshold_per_day, 2000u);
  EXPECT_EQ(c->gonogo.decision_hour, 6);
  EXPECT_EQ(c->gonogo.criteria.size(), 7u);
  EXPECT_EQ(c->gonogo.recent_days, 30);
  EXPECT_EQ(c->gonogo.planned_installations_per_day, 10000u);
  EXPECT_EQ(c->storm_rate_window_ms, 5 * kMsPerMinute);
  EXPECT_EQ(c->outage.long_interruption_ms, 3 * kMsPerMinute);
  EXPECT_EQ(c->class_of_slot.size(), ref_.catalogue->slot_count());
}

TEST_F(RulesConfigTest, MinimalConfigTakesDefaultsAndMapsUnknownPrioritiesToTheLastClass) {
  auto c = LoadText(kMinimal);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->latency_bounds_ms.size(), 12u);
  EXPECT_TRUE(c->voltage_whatif.empty());
  EXPECT_EQ(c->gonogo.recent_days, 30);  // the migration load's defaults: no plan set
  EXPECT_EQ(c->gonogo.planned_installations_per_day, 0u);
  // Catalogue priorities (critical, high, ...) are not class names here: every code is "rest".
  for (uint8_t cls : c->class_of_slot) EXPECT_EQ(cls, 1);
}

TEST_F(RulesConfigTest, MistakesNameTheFileLineAndField) {
  EXPECT_NE(ErrorOf("priorities: []\n").find("priorities"), std::string::npos);
  const std::string bad_target = ErrorOf("priorities:\n  - {name: a, target: soon}\n");
  EXPECT_NE(bad_target.find("rules.yaml:2"), std::string::npos) << bad_target;
  EXPECT_NE(bad_target.find("target"), std::string::npos) << bad_target;
  EXPECT_NE(ErrorOf(std::string(kMinimal) + "high_priority: {class: vip}\n").find("vip"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(std::string(kMinimal) + "high_priority: {class: urgent, categories: [voltag]}\n")
          .find("unknown category 'voltag'"),
      std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) + "latency_buckets: [5s, 1s]\n").find("ascending"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) +
                    "voltage_whatif:\n  - {name: x, code: \"8F40\", generation: 3, current: 2530, "
                    "candidates: [2550]}\n")
                .find("generation"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) +
                    "voltage_whatif:\n  - {name: x, code: \"8ABC\", generation: 1, current: 2530, "
                    "candidates: [2550]}\n")
                .find("not in the alert catalogue"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) + "storms: {rate_window: 7m}\n").find("rate_window"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) + "outages: {min_share: 2}\n").find("min_share"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(std::string(kMinimal) + "gonogo: {decision_time: \"25:00\"}\n").find("decision_time"),
      std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) + "gonogo: {recent_days: 0}\n").find("recent_days"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) + "gonogo: {planned_installations_per_day: -1}\n")
                .find("planned_installations_per_day"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kMinimal) +
                    "gonogo:\n  criteria:\n    - {id: a, metric: m, amber: 5, red: 1}\n")
                .find("gonogo"),
            std::string::npos);
  EXPECT_NE(ErrorOf("priorities:\n  - {name: a, target: 1s, target_service_level: 0.8, "
                    "minimum_service_level: 0.9}\n")
                .find("minimum_service_level"),
            std::string::npos);
}

// The noisy devices' capacities are fleet-wide; the names they had when they were per worker
// are still read (as the fleet-wide figure), but not together with the new ones.
TEST_F(RulesConfigTest, NoisyCapacitiesAreFleetWideAndTheirOldNamesStillLoad) {
  auto c =
      LoadText(std::string(kMinimal) + "noisy_devices: {capacity: 5000, track_capacity: 7000}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->noisy_capacity, 5000u);
  EXPECT_EQ(c->noisy_track_capacity, 7000u);
  auto old =
      LoadText(std::string(kMinimal) +
               "noisy_devices: {capacity_per_worker: 3000, track_capacity_per_worker: 4000}\n");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->noisy_capacity, 3000u);
  EXPECT_EQ(old->noisy_track_capacity, 4000u);
  EXPECT_NE(ErrorOf(std::string(kMinimal) +
                    "noisy_devices: {capacity: 5000, capacity_per_worker: 3000}\n")
                .find("old name of capacity"),
            std::string::npos);
  // Below one per virtual shard a capacity would round up unseen.
  EXPECT_NE(
      ErrorOf(std::string(kMinimal) + "noisy_devices: {track_capacity: 10}\n").find("at least 64"),
      std::string::npos);
}

TEST_F(RulesConfigTest, SetupMapsRulesToSlotsAndRegions) {
  auto c = LoadRulesConfig(testing::ConfigDir() + "/rules.yaml", ref_);
  ASSERT_TRUE(c.ok()) << c.status();
  const aggregate::FleetLayout layout(*ref_.areas, *ref_.catalogue, *ref_.dmcs, *ref_.cohorts);
  const aggregate::RuleInputsSetup s = BuildRuleInputsSetup(*c, layout, 5 * kMsPerMinute);
  const size_t f40 = ref_.catalogue->SlotOf(*ParseAlertCode("8F40"));
  EXPECT_EQ(s.voltage_rule_of_cell[f40 * 2], 0);       // SMETS1
  EXPECT_EQ(s.voltage_rule_of_cell[f40 * 2 + 1], -1);  // SMETS2: no rule
  EXPECT_EQ(s.max_candidates, 4u);
  EXPECT_EQ(s.region_slots, ref_.areas->regions().size() + 1);
  // Every known area maps to its region; "unknown" to the extra slot.
  for (size_t a = 0; a < ref_.areas->size(); ++a) {
    EXPECT_EQ(s.region_of_area_slot[a],
              ref_.areas->area(AreaId{static_cast<uint8_t>(a)}).region.value);
  }
  EXPECT_EQ(s.region_of_area_slot.back(), ref_.areas->regions().size());
}

}  // namespace
}  // namespace smetsmon::rules
