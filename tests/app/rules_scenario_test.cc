// End to end through the rules on generated traffic: the generator's scenarios, replayed as
// `smetsmon replay --inventory` does (through the pipeline: rules from config/rules.yaml evaluated
// on the minute grid of stream time, then once more at the end of the stream), must show as the
// findings, what-if rows and Go/No-Go an operator would act on. Expectations come from the
// scenario's definition (generator.h), the generator's truth, or the generated lines decoded
// independently of the engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aggregate/engine.h"
#include "base/fields.h"
#include "decode/decoder.h"
#include "gen/generator.h"
#include "ingest/replay.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"
#include "testing/fixtures.h"
#include "testing/pipeline.h"

namespace smetsmon {
namespace {

using rules::Finding;
using rules::FindingKind;
using rules::Rag;

// The SMETS1 DMC flood's 8F40 voltages are uniform in [2530, 2580] decivolts (generator.h).
constexpr int32_t kFloodLowDv = 2530;
constexpr int32_t kFloodHighDv = 2580;
// The processing time of the replay: far after the generated event times, so that the contract's
// future-time check never rejects a generated line.
constexpr ProcessingTime kReplayNow{4'000'000'000'000};

enum class Scenario { kDmcFlood, kPfFlood, kPowerCut, kCommsIncident };

// A day of traffic with one scenario enabled and the others disabled.
gen::GeneratorConfig OnlyScenario(Scenario s, uint64_t premises) {
  gen::GeneratorConfig c;
  c.premises = premises;
  c.duration_ms = 24 * kMsPerHour;
  c.dmc_flood.enabled = s == Scenario::kDmcFlood;
  c.pf_flood.enabled = s == Scenario::kPfFlood;
  c.power_cut.enabled = s == Scenario::kPowerCut;
  c.comms_incident.enabled = s == Scenario::kCommsIncident;
  return c;
}

std::vector<Finding> AllFindings(const rules::RulesSnapshot& s) {
  std::vector<Finding> all = s.open_findings;
  all.insert(all.end(), s.closed_findings.begin(), s.closed_findings.end());
  return all;
}

std::vector<Finding> FindingsOf(const rules::RulesSnapshot& s, FindingKind kind) {
  std::vector<Finding> out;
  for (const Finding& f : AllFindings(s)) {
    if (f.kind == kind) out.push_back(f);
  }
  return out;
}

double Figure(const Finding& f, const std::string& name) {
  const auto it = f.figures.find(name);
  EXPECT_NE(it, f.figures.end()) << f.id << " has no figure " << name;
  return it == f.figures.end() ? -1.0 : it->second;
}

// Everything an operator sees of a finding, as one comparable line.
std::string Describe(const Finding& f) {
  std::string out = absl::StrCat(f.id, " kind=", rules::FindingKindName(f.kind),
                                 " severity=", rules::SeverityName(f.severity),
                                 " area=", f.area.value, " region=", f.region, " scope=", f.scope,
                                 " start=", f.start.ms, " end=", f.end ? f.end->ms : -1);
  for (const auto& [name, value] : f.figures) {
    absl::StrAppend(&out, " ", name, "=", absl::StrFormat("%.17g", value));
  }
  absl::StrAppend(&out, " | ", f.explanation);
  return out;
}

const rules::WhatIfRow* FindWhatIf(const rules::RulesSnapshot& s, const std::string& rule,
                                   const std::string& scope, const std::string& window) {
  for (const rules::WhatIfRow& r : s.whatif) {
    if (r.rule == rule && r.scope == scope && r.window == window) return &r;
  }
  return nullptr;
}

const rules::CriterionResult* FindCriterion(const rules::GoNoGoResult& r, const std::string& id) {
  for (const rules::CriterionResult& c : r.criteria) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

class RulesScenarioTest : public ::testing::Test {
 protected:
  RulesScenarioTest() : ref_(testing::LoadTestReference()) {
    auto loaded = rules::LoadRulesConfig(testing::ConfigDir() + "/rules.yaml", ref_);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (loaded.ok()) rules_ = *std::move(loaded);
  }

  struct Generated {
    gen::GeneratorConfig config;
    gen::GeneratedTruth truth;
    std::string path;       // the JSON Lines file
    std::string inventory;  // its population's inventory CSV
  };

  // Generates `config` into a file and loads the population's inventory (as --inventory would).
  Generated Generate(const gen::GeneratorConfig& config, const std::string& name) {
    Generated g;
    g.config = config;
    g.path = testing::TempPath(absl::StrCat(name, ".jsonl"));
    const std::string inventory = testing::TempPath(absl::StrCat(name, "-inventory.csv"));
    g.inventory = inventory;
    gen::Generator generator(*ref_.areas, *ref_.catalogue, config);
    {
      std::ofstream out(g.path, std::ios::binary);
      generator.Run([&](std::string_view line) { out << line << '\n'; });
    }
    {
      std::ofstream out(inventory, std::ios::binary);
      generator.WriteInventoryCsv(out);
    }
    g.truth = generator.truth();
    ref_.inventory = std::make_unique<catalog::Inventory>(*ref_.areas, *ref_.dmcs, *ref_.cohorts);
    const absl::Status loaded = ref_.inventory->LoadCsv(inventory);
    EXPECT_TRUE(loaded.ok()) << loaded;
    EXPECT_EQ(ref_.inventory->stats().bad_rows, 0u);
    return g;
  }

  // The generated lines as the monitor accepts them: valid, first of each alert_id.
  std::vector<AlertEvent> DecodeUnique(const Generated& g) {
    decode::Decoder decoder(
        {ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), ref_.inventory.get()});
    absl::flat_hash_set<uint64_t> seen;
    std::vector<AlertEvent> out;
    for (const std::string& line : testing::ReadLines(g.path)) {
      AlertEvent e;
      if (decoder.Decode(line, kReplayNow, &e) != RejectReason::kNone) continue;
      if (!seen.insert(e.alert_fingerprint).second) continue;
      out.push_back(e);
    }
    EXPECT_EQ(out.size(), g.truth.unique_valid);
    return out;
  }

  // Replays the file as `smetsmon replay` does with config/rules.yaml; returns the final
  // snapshot.
  // `storm_seed`: storm baselines to start from; `baselines_out`: where to write the storm
  // baselines learned (`replay --storm-seed/--baselines-out`).
  rules::RulesSnapshot Replay(const Generated& g, size_t workers = 1,
                              const std::string& storm_seed = "",
                              const std::string& baselines_out = "") {
    pipeline::PipelineConfig config = testing::TestPipelineConfig(/*rules=*/true);
    config.storm_seed_file = storm_seed;
    config.engine.workers = workers;
    config.engine.expected_devices = size_t{1} << 17;  // presize only: the table grows
    config.engine.dedup_capacity = size_t{1} << 22;    // above any file here: no evictions
    config.inventory_path = g.inventory;
    ManualClock clock(kReplayNow);
    auto p = testing::MakePipeline(config, clock);
    if (p == nullptr) return {};
    auto lines = ingest::ReplayFiles({g.path}, *p, clock, {});
    EXPECT_TRUE(lines.ok()) << lines.status();
    if (lines.ok()) {
      EXPECT_EQ(*lines, g.truth.lines);
    }
    const aggregate::CounterTotals counters = p->engine().Counters();
    EXPECT_EQ(counters.accepted, g.truth.unique_valid);
    EXPECT_EQ(counters.dedup_evictions, 0u);
    rules::RulesSnapshot snapshot = p->evaluator()->Snapshot();
    EXPECT_EQ(snapshot.outage_signals_dropped, 0u);
    if (!baselines_out.empty()) {
      p->Stop();
      EXPECT_TRUE(p->evaluator()->WriteStormBaselines(baselines_out).ok());
    }
    return snapshot;
  }

  // The voltage what-if rule for SMETS1 8F40 in config/rules.yaml.
  const rules::VoltageRuleConfig* Smets1_8F40Rule() const {
    const AlertCode code = *ParseAlertCode("8F40");
    for (const rules::VoltageRuleConfig& r : rules_.voltage_whatif) {
      if (r.code == code && r.generation == Generation::kSmets1) return &r;
    }
    return nullptr;
  }

  catalog::ReferenceData ref_;
  rules::RulesConfig rules_;
};

// Per candidate level, how many weighted alerts (of `events` passing `keep`) it stops: an
// over-voltage alert stops when the level is raised to at or above its voltage (rules.yaml).
struct WhatIfExpectation {
  uint64_t alerts = 0;
  std::vector<uint64_t> stopped;
};

template <typename Keep>
WhatIfExpectation ExpectWhatIf(const std::vector<AlertEvent>& events,
                               const rules::VoltageRuleConfig& rule, Keep keep) {
  WhatIfExpectation out;
  out.stopped.assign(rule.rule.candidates_dv.size(), 0);
  for (const AlertEvent& e : events) {
    if (e.code != rule.code || e.generation != rule.generation) continue;
    if ((e.present & AlertEvent::kHasVoltage) == 0 || !keep(e)) continue;
    out.alerts += e.throttled_count;
    for (size_t i = 0; i < rule.rule.candidates_dv.size(); ++i) {
      const int32_t level = rule.rule.candidates_dv[i];
      // An alert fires at or beyond the level: only a level moved past its voltage stops it.
      if (rule.rule.over ? e.voltage_dv < level : e.voltage_dv > level) {
        out.stopped[i] += e.throttled_count;
      }
    }
  }
  return out;
}

TEST_F(RulesScenarioTest, DmcFloodShowsInWhatIfAndRaisesTheGoNoGo) {
  const rules::VoltageRuleConfig* rule = Smets1_8F40Rule();
  ASSERT_NE(rule, nullptr) << "config/rules.yaml has no SMETS1 8F40 what-if rule";
  const std::vector<int32_t>& levels = rule->rule.candidates_dv;
  const auto level_index = [&](int32_t dv) {
    return static_cast<size_t>(std::find(levels.begin(), levels.end(), dv) - levels.begin());
  };
  const size_t at_high = level_index(kFloodHighDv);
  const size_t at_low = level_index(kFloodLowDv);
  ASSERT_LT(at_high, levels.size()) << "no candidate level at the flood's highest voltage";
  ASSERT_LT(at_low, levels.size()) << "no candidate level at the flood's lowest voltage";
  ASSERT_TRUE(rule->rule.over);

  gen::GeneratorConfig config = OnlyScenario(Scenario::kDmcFlood, 30000);
  const Generated flood = Generate(config, "flood");
  ASSERT_GT(flood.truth.dmc_flood_alerts, 0u);
  const rules::RulesSnapshot with = Replay(flood);
  const std::vector<AlertEvent> flood_events = DecodeUnique(flood);

  // The flood's facts hold in the generated lines: every 8F40 lies in [2530, 2580].
  const uint16_t flooding = ref_.dmcs->Find(config.dmc_flood.dmc);
  ASSERT_NE(flooding, 0);
  for (const AlertEvent& e : flood_events) {
    if (e.code != rule->code) continue;
    ASSERT_TRUE(e.present & AlertEvent::kHasVoltage);
    ASSERT_GE(e.voltage_dv, kFloodLowDv);
    ASSERT_LE(e.voltage_dv, kFloodHighDv);
  }

  // What-if over the whole day: the rule's alerts are every 8F40 the generator wrote (the flood's
  // and the background's); none stopped at today's level, nearly all at the flood's top voltage.
  const rules::WhatIfRow* all = FindWhatIf(with, rule->rule.name, "all", "24h");
  ASSERT_NE(all, nullptr);
  const WhatIfExpectation expect_all =
      ExpectWhatIf(flood_events, *rule, [](const AlertEvent&) { return true; });
  EXPECT_EQ(all->alerts, flood.truth.alerts_by_code.at("8F40"));
  EXPECT_EQ(all->alerts, expect_all.alerts);
  EXPECT_GE(all->alerts, flood.truth.dmc_flood_alerts);
  EXPECT_EQ(all->levels_dv, levels);
  EXPECT_EQ(all->stopped, expect_all.stopped);
  // Today's level stops nothing; the flood's top voltage stops all but those exactly at it
  // (about 1 in 51 of a uniform 2530..2580).
  EXPECT_EQ(all->stopped[at_low], 0u);
  EXPECT_LT(all->stopped[at_high], all->alerts);
  EXPECT_GT(all->stopped[at_high] * 20, all->alerts * 19);
  EXPECT_NE(all->sentence.find(absl::StrFormat("%.1f V", kFloodHighDv / 10.0)), std::string::npos)
      << all->sentence;

  // A per-DMC row for the flooding DMC carries the flood, and dwarfs every other DMC's.
  const rules::WhatIfRow* dmc =
      FindWhatIf(with, rule->rule.name, absl::StrCat("dmc=", config.dmc_flood.dmc), "24h");
  ASSERT_NE(dmc, nullptr);
  const WhatIfExpectation expect_dmc = ExpectWhatIf(
      flood_events, *rule, [&](const AlertEvent& e) { return e.dmc.value == flooding; });
  EXPECT_EQ(dmc->alerts, expect_dmc.alerts);
  EXPECT_EQ(dmc->stopped, expect_dmc.stopped);
  EXPECT_GE(dmc->alerts, flood.truth.dmc_flood_alerts);
  EXPECT_LT(dmc->stopped[at_high], dmc->alerts);
  EXPECT_GT(dmc->stopped[at_high] * 20, dmc->alerts * 19);
  for (const rules::WhatIfRow& r : with.whatif) {
    if (r.rule != rule->rule.name || r.window != "24h" || r.scope.rfind("dmc=", 0) != 0) continue;
    if (r.scope == dmc->scope) continue;
    EXPECT_LT(r.alerts * 5, dmc->alerts) << r.scope;
  }

  // The continuous Go/No-Go: SMETS1 alerts per installation are amber or red, and so the
  // overall is not "go".
  const rules::CriterionResult* per_install =
      FindCriterion(with.gonogo, "smets1_alerts_per_installation");
  ASSERT_NE(per_install, nullptr);
  ASSERT_TRUE(per_install->available) << per_install->detail;
  EXPECT_TRUE(per_install->rag == Rag::kAmber || per_install->rag == Rag::kRed)
      << per_install->value << " (" << per_install->detail << ")";
  EXPECT_NE(with.gonogo.overall, Rag::kGreen);
  EXPECT_NE(with.gonogo.overall, Rag::kUnknown);

  // The same population without the flood: fewer SMETS1 alerts per installation, by the flood's
  // share. The denominator (the inventory's installations) is the same for both runs, so the
  // values are in the ratio of the SMETS1 alerts the generator wrote.
  config.dmc_flood.enabled = false;
  const Generated quiet = Generate(config, "quiet");
  EXPECT_EQ(quiet.truth.dmc_flood_alerts, 0u);
  const rules::RulesSnapshot without = Replay(quiet);
  const rules::CriterionResult* quiet_per_install =
      FindCriterion(without.gonogo, "smets1_alerts_per_installation");
  ASSERT_NE(quiet_per_install, nullptr);
  ASSERT_TRUE(quiet_per_install->available) << quiet_per_install->detail;
  EXPECT_LT(quiet_per_install->value, per_install->value);
  EXPECT_LT(static_cast<int>(quiet_per_install->rag), static_cast<int>(per_install->rag));
  // An installation is a premises (its hub and meter count once): the quiet day's value is the
  // generator's background per premises.
  EXPECT_NEAR(quiet_per_install->value, config.smets1_alerts_per_day,
              0.05 * config.smets1_alerts_per_day)
      << quiet_per_install->detail;
  const auto smets1_alerts = [](const std::vector<AlertEvent>& events) {
    uint64_t n = 0;
    for (const AlertEvent& e : events)
      n += e.generation == Generation::kSmets1 ? e.throttled_count : 0;
    return n;
  };
  const uint64_t smets1_with = smets1_alerts(flood_events);
  const uint64_t smets1_without = smets1_alerts(DecodeUnique(quiet));
  ASSERT_GT(smets1_without, 0u);
  EXPECT_NEAR(per_install->value / quiet_per_install->value,
              static_cast<double>(smets1_with) / static_cast<double>(smets1_without), 1e-9);
  // The difference is the flood (the background differs a little between the two runs).
  EXPECT_NEAR(static_cast<double>(smets1_with - smets1_without),
              static_cast<double>(flood.truth.dmc_flood_alerts),
              0.05 * static_cast<double>(flood.truth.dmc_flood_alerts));
}

TEST_F(RulesScenarioTest, AreaPowerCutOpensAndClosesOnePowerOutage) {
  const gen::GeneratorConfig config = OnlyScenario(Scenario::kPowerCut, 30000);
  const Generated g = Generate(config, "cut");
  const AreaId area = ref_.areas->ByGspGroup(*ParseGspGroup(config.power_cut.gsp_group));
  ASSERT_NE(area, kUnknownArea);
  ASSERT_GE(g.truth.power_cut_premises, rules_.outage.min_premises);

  // The AD1 the generator wrote: one per premises in the cut, all in its area.
  const AlertCode ad1 = *ParseAlertCode("AD1");
  std::set<uint64_t> cut_premises;
  for (const AlertEvent& e : DecodeUnique(g)) {
    if (e.code != ad1) continue;
    EXPECT_EQ(e.area, area);
    cut_premises.insert(e.mpxn);
  }
  EXPECT_EQ(cut_premises.size(), g.truth.power_cut_premises);

  const rules::RulesSnapshot s = Replay(g);
  const std::vector<Finding> outages = FindingsOf(s, FindingKind::kPowerOutage);
  ASSERT_EQ(outages.size(), 1u);
  const Finding& f = outages.front();
  EXPECT_EQ(f.area, area);
  EXPECT_EQ(f.scope, absl::StrCat("area=", ref_.areas->area(area).name));
  EXPECT_EQ(f.region, ref_.areas->RegionLabel(ref_.areas->RegionOf(area)));
  EXPECT_EQ(Figure(f, "affected_premises"), static_cast<double>(g.truth.power_cut_premises));
  // Installations are premises (hub and meter share an MPAN): the cut hit the configured share.
  EXPECT_NEAR(Figure(f, "share_of_installations"), config.power_cut.premises_share, 0.03);
  // It starts with the first AD1 (within 2 min of the cut) and, the day going on for hours after
  // the restorations (within 2 min of the cut's end), it has closed by then.
  const int64_t cut_from = config.start_ms + config.power_cut.start_offset_ms;
  const int64_t restored_from = cut_from + config.power_cut.duration_ms;
  EXPECT_GE(f.start.ms, cut_from);
  EXPECT_LT(f.start.ms, cut_from + 2 * kMsPerMinute);
  ASSERT_FALSE(f.open()) << Describe(f);
  EXPECT_GE(f.end->ms, restored_from);
  EXPECT_LT(f.end->ms, restored_from + 2 * kMsPerMinute);
  // Closed once the configured share was restored; every restoration after a cut of 3 min or
  // more is a long interruption (8F36).
  const double restored_share = Figure(f, "restored_share");
  EXPECT_GE(restored_share, rules_.outage.close_restored_share);
  EXPECT_LE(restored_share, 1.0);
  ASSERT_GE(config.power_cut.duration_ms, rules_.outage.long_interruption_ms);
  EXPECT_EQ(Figure(f, "long_interruptions"), Figure(f, "restored_premises"));
  EXPECT_EQ(Figure(f, "duration_ms"), static_cast<double>(f.end->ms - f.start.ms));

  // The restorations were explained by the outage: no comms incident anywhere.
  EXPECT_TRUE(FindingsOf(s, FindingKind::kCommsIncident).empty());
}

TEST_F(RulesScenarioTest, CommsIncidentIsNotCalledAPowerCut) {
  const gen::GeneratorConfig config = OnlyScenario(Scenario::kCommsIncident, 40000);
  const Generated g = Generate(config, "comms");
  ASSERT_GT(g.truth.comms_incident_premises, 0u);
  const int64_t from = config.start_ms + config.comms_incident.start_offset_ms;
  const int64_t to = from + config.comms_incident.spread_ms;

  // Restorations per comms region during the incident, and no outage start anywhere.
  const AlertCode ad1 = *ParseAlertCode("AD1");
  const AlertCode restored = *ParseAlertCode("8F35");
  const AlertCode restored_long = *ParseAlertCode("8F36");
  std::map<std::string, uint64_t> by_region;
  for (const AlertEvent& e : DecodeUnique(g)) {
    ASSERT_NE(e.code, ad1);
    if (e.code != restored && e.code != restored_long) continue;
    if (e.event_time.ms < from || e.event_time.ms > to) continue;
    ++by_region[ref_.areas->RegionLabel(ref_.areas->RegionOf(e.area))];
  }

  const rules::RulesSnapshot s = Replay(g);
  EXPECT_TRUE(FindingsOf(s, FindingKind::kPowerOutage).empty());
  const std::vector<Finding> incidents = FindingsOf(s, FindingKind::kCommsIncident);
  EXPECT_FALSE(incidents.empty());
  std::map<std::string, int> incidents_by_region;
  for (const Finding& f : incidents) {
    ++incidents_by_region[f.region];
    EXPECT_NE(f.explanation.find("not a power cut"), std::string::npos) << f.explanation;
    // It starts at the first unmatched restoration of the window that opened it, which may be a
    // background one from just before the flood.
    EXPECT_GE(f.start.ms, from - rules_.outage.window_ms) << Describe(f);
    EXPECT_LE(f.start.ms, to) << Describe(f);
    EXPECT_FALSE(f.open()) << Describe(f);  // the flood lasted minutes; the day goes on for hours
    EXPECT_LE(Figure(f, "matched_share"), rules_.outage.comms_max_matched_share);
    const double peak = Figure(f, "peak_unmatched_restorations");
    EXPECT_GE(peak, static_cast<double>(rules_.outage.comms_min_restorations));
    EXPECT_LE(peak, static_cast<double>(by_region[f.region]));
  }
  // The incident's restorations are spread evenly over spread_ms: a region with three times the
  // threshold in all has well over the threshold within any window, and gets exactly one
  // incident; a region below the threshold in all gets none.
  ASSERT_LE(rules_.outage.window_ms, config.comms_incident.spread_ms);
  size_t expected = 0;
  for (const std::string& region : ref_.areas->regions()) {
    const uint64_t n = by_region[region];
    if (n >= 3 * uint64_t{rules_.outage.comms_min_restorations}) {
      ++expected;
      EXPECT_EQ(incidents_by_region[region], 1) << region << ": " << n << " restorations";
    } else if (n < rules_.outage.comms_min_restorations) {
      EXPECT_EQ(incidents_by_region[region], 0) << region << ": " << n << " restorations";
    }
  }
  EXPECT_GT(expected, 0u) << "no region had enough restorations for an incident";
}

TEST_F(RulesScenarioTest, ReplaysOfTheSameFileGiveTheSameFindings) {
  gen::GeneratorConfig config;  // every scenario
  config.premises = 20000;
  config.duration_ms = 24 * kMsPerHour;
  const Generated g = Generate(config, "all");
  const auto describe_all = [](const rules::RulesSnapshot& s) {
    std::vector<std::string> out;
    for (const Finding& f : AllFindings(s)) out.push_back(Describe(f));
    return out;
  };
  const rules::RulesSnapshot first = Replay(g);
  const rules::RulesSnapshot second = Replay(g);
  // Not vacuous: the day has its power outage and comms incident.
  EXPECT_EQ(FindingsOf(first, FindingKind::kPowerOutage).size(), 1u);
  EXPECT_FALSE(FindingsOf(first, FindingKind::kCommsIncident).empty());
  EXPECT_EQ(describe_all(first), describe_all(second));
  EXPECT_EQ(first.evaluated_at, second.evaluated_at);
  // The same with the devices sharded over three workers (the evaluator sums their windows and
  // drains their outage signals worker by worker).
  const rules::RulesSnapshot sharded = Replay(g, 3);
  EXPECT_EQ(describe_all(first), describe_all(sharded));
}

// Storms on generated days: the generator's background is steady with its daily profile, so a
// day of it is never a storm, from a cold start or from learned baselines; its floods rise from
// that normal level, so they are storms, on the flooded categories only, from their start.
TEST_F(RulesScenarioTest, SteadyDaysAreNeverStormsAndFloodsAre) {
  const auto day = [](int64_t start_ms, uint64_t seed, bool floods) {
    gen::GeneratorConfig c;
    c.premises = 100000;
    c.population_seed = 42;  // one estate for every day
    c.seed = seed;
    c.start_ms = start_ms;
    c.duration_ms = 24 * kMsPerHour;
    c.dmc_flood.enabled = floods;
    c.pf_flood.enabled = floods;
    c.power_cut.enabled = false;
    c.comms_incident.enabled = false;
    return c;
  };
  const int64_t day3 = gen::GeneratorConfig{}.start_ms;
  const int64_t day1 = day3 - 2 * kMsPerDay, day2 = day3 - kMsPerDay;
  const std::string seed1 = testing::TempPath("storm-baselines-1.bin");
  const std::string seed2 = testing::TempPath("storm-baselines-2.bin");

  // Day 1 from a cold start, day 2 from day 1's baselines: steady traffic, no storm.
  const rules::RulesSnapshot first = Replay(Generate(day(day1, 11, false), "day1"), 1, "", seed1);
  EXPECT_TRUE(FindingsOf(first, FindingKind::kStorm).empty());
  EXPECT_GT(first.storm_basis_counts[static_cast<size_t>(rules::StormBasis::kProvisional)], 0u);
  const rules::RulesSnapshot second =
      Replay(Generate(day(day2, 12, false), "day2"), 1, seed1, seed2);
  EXPECT_TRUE(FindingsOf(second, FindingKind::kStorm).empty());
  // Seeded, every scope knows its hours at the end of the second day.
  EXPECT_EQ(second.storm_basis_counts[static_cast<size_t>(rules::StormBasis::kLearning)], 0u);
  EXPECT_GT(second.storm_basis_counts[static_cast<size_t>(rules::StormBasis::kLearned)], 0u);

  // Day 3 has the floods: storms on their categories, opening within the minimum duration (and
  // the rate window's fill) of their start, all closed once the floods end; none elsewhere.
  const gen::GeneratorConfig flood_day = day(day3, 13, true);
  const Generated floods = Generate(flood_day, "day3");
  for (const std::string& seed : {seed2, std::string()}) {
    SCOPED_TRACE(seed.empty() ? "cold start" : "seeded");
    const rules::RulesSnapshot third = Replay(floods, 1, seed);
    const std::vector<Finding> storms = FindingsOf(third, FindingKind::kStorm);
    bool dmc_storm = false, pf_storm = false;
    for (const Finding& f : storms) {
      const bool voltage = absl::StrContains(f.scope, "category=voltage");
      const bool pf = absl::StrContains(f.scope, "category=power_quality.power_factor");
      ASSERT_TRUE(voltage || pf) << Describe(f);
      const int64_t start = day3 + (voltage ? flood_day.dmc_flood.start_offset_ms
                                            : flood_day.pf_flood.start_offset_ms);
      const int64_t end =
          start + (voltage ? flood_day.dmc_flood.duration_ms : flood_day.pf_flood.duration_ms);
      EXPECT_GE(f.start.ms, start) << Describe(f);
      // The DMC flood is far above any threshold: its storms open at once (the minimum duration
      // after the rate window fills); the power-factor flood is nearer the floor in small scopes.
      EXPECT_LE(f.start.ms, voltage ? start + 15 * kMsPerMinute : end) << Describe(f);
      EXPECT_FALSE(f.open()) << Describe(f);
      dmc_storm = dmc_storm ||
                  f.scope == absl::StrCat("dmc=", flood_day.dmc_flood.dmc, " category=voltage");
      pf_storm = pf_storm || pf;
    }
    EXPECT_TRUE(dmc_storm);
    EXPECT_TRUE(pf_storm);
  }
}

}  // namespace
}  // namespace smetsmon
