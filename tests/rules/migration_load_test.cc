// The migration load (rules/migration_load.h): SMETS1 alerts per installation per day of recent vs
// established installations, and the projected SMETS1 alerts a day after 7 and 30 days of the
// planned migration volume, against capacity. On constructed inventories and event sequences
// (the recent_days boundary, ages on both sides of it, the projection's arithmetic from the
// scenario's inputs, unknown without the data), then on the generator's traffic end to end.
#include "rules/migration_load.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "aggregate/engine.h"
#include "aggregate/migration_inputs.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "decode/decoder.h"
#include "gen/generator.h"
#include "ingest/replay.h"
#include "report/gonogo_report.h"
#include "report/migration_load_report.h"
#include "rules/evaluator.h"
#include "rules/gonogo.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"
#include "testing/fixtures.h"
#include "testing/pipeline.h"
#include "testing/rules_engine.h"

namespace smetsmon::rules {
namespace {

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z
constexpr int64_t kDay0 = kT0 / kMsPerDay;
constexpr ProcessingTime kReplayNow{4'000'000'000'000};

const CriterionResult* FindCriterion(const GoNoGoResult& r, const std::string& id) {
  for (const CriterionResult& c : r.criteria) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// ---- The classification and the per-event window ---------------------------------------

TEST(MigrationLayoutTest, AnInstallationIsRecentForItsFirstRecentDaysOnly) {
  const auto layout = aggregate::MigrationLayout::Make(8, 4, 30);
  const int32_t installed = 19000;
  EXPECT_EQ(layout.ClassAt(installed - 1, installed), 0);  // before it was installed
  EXPECT_EQ(layout.ClassAt(installed, installed), 1);
  EXPECT_EQ(layout.ClassAt(installed + 29, installed), 1);
  EXPECT_EQ(layout.ClassAt(installed + 30, installed), 2);
  EXPECT_EQ(layout.ClassAt(installed + 3000, installed), 2);
  EXPECT_EQ(layout.ClassAt(installed, 0), 0);  // no installation day
  const auto week = aggregate::MigrationLayout::Make(8, 4, 7);
  EXPECT_EQ(week.ClassAt(installed + 6, installed), 1);
  EXPECT_EQ(week.ClassAt(installed + 7, installed), 2);
}

TEST(MigrationLayoutTest, ManyCohortIdsFoldIntoOneColumn) {
  const auto small = aggregate::MigrationLayout::Make(256, 32, 30);
  EXPECT_FALSE(small.cohorts_folded());
  EXPECT_EQ(small.cells(), 256u * 32 * 2);
  EXPECT_NE(small.Cell(3, 2, true), small.Cell(3, 5, true));
  const auto big = aggregate::MigrationLayout::Make(60002, 60002, 30);
  EXPECT_TRUE(big.cohorts_folded());
  EXPECT_EQ(big.cells(), 60002u * 2);
  EXPECT_EQ(big.Cell(3, 2, true), big.Cell(3, 5, true));
}

AlertEvent Smets1Event(uint64_t device, int64_t t, uint16_t dmc, uint16_t cohort,
                       int32_t installed_day, uint32_t weight = 1) {
  AlertEvent e;
  e.device = DeviceId{device};
  e.event_time = EventTime{t};
  e.generation = Generation::kSmets1;
  e.dmc = DmcId{dmc};
  e.cohort = CohortId{cohort};
  e.installed_day = catalog::InstalledDay16(installed_day);
  e.throttled_count = weight;
  return e;
}

TEST(MigrationInputsTest, AlertsKeepTheClassOfTheirEventTimeAcrossTheBoundary) {
  const auto layout = aggregate::MigrationLayout::Make(8, 4, 30);
  aggregate::MigrationInputs in(layout, 5 * kMsPerMinute);
  const int32_t installed = static_cast<int32_t>(kDay0) - 29;             // its 30th day is kDay0
  const int64_t last_recent = kT0 + kMsPerDay - 30 * kMsPerMinute;        // 23:30 on day 30
  const int64_t first_established = kT0 + kMsPerDay + 30 * kMsPerMinute;  // 00:30 on day 31
  in.AdvanceTo(EventTime{last_recent});
  in.Add(Smets1Event(1, last_recent, 2, 3, installed, /*weight=*/3), 3);
  in.AdvanceTo(EventTime{first_established});
  in.Add(Smets1Event(1, first_established, 2, 3, installed), 1);
  // Not counted: SMETS2, no installation day, raised before the installation day.
  AlertEvent smets2 = Smets1Event(2, first_established, 2, 3, installed);
  smets2.generation = Generation::kSmets2;
  in.Add(smets2, 1);
  in.Add(Smets1Event(3, first_established, 2, 3, 0), 1);
  in.Add(Smets1Event(4, first_established, 2, 3, static_cast<int32_t>(kDay0) + 5), 1);

  std::vector<uint64_t> cells(layout.cells(), 0);
  in.SumOwned(EventTime{first_established}, cells, 8, 4);
  EXPECT_EQ(cells[layout.Cell(2, 3, true)], 3u);  // counted recent at 23:30, still recent
  EXPECT_EQ(cells[layout.Cell(2, 3, false)], 1u);
  uint64_t total = 0;
  for (uint64_t c : cells) total += c;
  EXPECT_EQ(total, 4u);

  // 24 h later the 23:30 alert has left the window, the 00:30 one is in its last hour.
  const EventTime later{first_established + kMsPerDay - kMsPerHour};
  in.AdvanceTo(later);
  std::fill(cells.begin(), cells.end(), 0);
  in.SumOwned(later, cells, 8, 4);
  EXPECT_EQ(cells[layout.Cell(2, 3, true)], 0u);
  EXPECT_EQ(cells[layout.Cell(2, 3, false)], 1u);
}

// ---- The inventory's installation days ---------------------------------------------------

class MigrationLoadTest : public ::testing::Test {
 protected:
  MigrationLoadTest() : ref_(testing::LoadTestReference()), config_(testing::ShippedRules(ref_)) {
    dmc_a_ = ref_.dmcs->Intern("DMC-A");
    dmc_b_ = ref_.dmcs->Intern("DMC-B");
    ioc_ = ref_.cohorts->Intern("IOC");
    moc_ = ref_.cohorts->Intern("MOC");
  }

  catalog::Inventory& Inventory() {
    if (!ref_.inventory) {
      ref_.inventory = std::make_unique<catalog::Inventory>(*ref_.areas, *ref_.dmcs, *ref_.cohorts);
    }
    return *ref_.inventory;
  }
  // A SMETS1 premises: a hub and a meter sharing an MPAN, installed on `day` (0 = undated).
  void AddPremises(uint64_t n, uint16_t dmc, uint16_t cohort, int32_t day,
                   Generation g = Generation::kSmets1) {
    catalog::InventoryRecord r;
    r.mpxn = 1000000000000ULL + n;
    r.installed_day = day;
    r.dmc = DmcId{dmc};
    r.cohort = CohortId{cohort};
    r.area = AreaId{0};
    r.generation = g;
    Inventory().Add(HubOf(n), r);
    Inventory().Add(MeterOf(n), r);
  }
  static DeviceId HubOf(uint64_t n) { return DeviceId{0x00DB000000000000ULL + 2 * n}; }
  static DeviceId MeterOf(uint64_t n) { return DeviceId{0x00DB000000000001ULL + 2 * n}; }

  void Start() {
    if (ref_.inventory) ref_.inventory->RecountPremises();
    setup_ = testing::RuleInputsFor(ref_, config_);
    engine_ = testing::SmallEngine(ref_, 2, &setup_);
    auto ev = Evaluator::Create(*engine_, config_);
    ASSERT_TRUE(ev.ok()) << ev.status();
    evaluator_ = *std::move(ev);
    decoder_ = std::make_unique<decode::Decoder>(decode::DecoderRefs{
        ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), ref_.inventory.get()});
  }

  // An SMETS1 8F40 alert from `device` through the decoder (which adds the inventory's
  // installation day), applied by its worker.
  void Alert(DeviceId device, int64_t t) {
    const std::string line =
        absl::StrCat(R"({"alert_id":"m)", ++next_id_, R"(","device_id":")", FormatDeviceId(device),
                     R"(","alert_code":"8F40","event_time":)", t, R"(,"smets":1})");
    AlertEvent e;
    ASSERT_EQ(decoder_->Decode(line, kReplayNow, &e), RejectReason::kNone) << line;
    engine_->WorkerFor(e.device).Apply(e);
  }
  RulesSnapshot Evaluate(int64_t t) {
    evaluator_->Tick(EventTime{t}, /*force=*/true);
    return evaluator_->Snapshot();
  }

  catalog::ReferenceData ref_;
  RulesConfig config_;
  aggregate::RuleInputsSetup setup_;
  std::unique_ptr<aggregate::Engine> engine_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<decode::Decoder> decoder_;
  uint16_t dmc_a_ = 0, dmc_b_ = 0, ioc_ = 0, moc_ = 0;
  uint64_t next_id_ = 0;
};

TEST_F(MigrationLoadTest, TheInventoryIndexesSmets1PremisesByDmcCohortAndDay) {
  AddPremises(1, dmc_a_, ioc_, 19000);
  AddPremises(2, dmc_a_, ioc_, 19010);
  AddPremises(3, dmc_a_, moc_, 19005);
  AddPremises(4, dmc_a_, ioc_, 0);                           // undated
  AddPremises(5, dmc_a_, ioc_, 19000, Generation::kSmets2);  // not SMETS1
  Inventory().RecountPremises();
  const auto& days = Inventory().smets1_install_days();
  ASSERT_EQ(days.size(), 2u);  // (A, IOC) and (A, MOC), in id order
  const catalog::Smets1InstallDays& a_ioc = days[ioc_ < moc_ ? 0 : 1];
  EXPECT_EQ(a_ioc.cohort.value, ioc_);
  // A hub and a meter sharing an MPAN are one installation.
  EXPECT_EQ(a_ioc.days, (std::vector<uint16_t>{19000, 19010}));
  EXPECT_EQ(a_ioc.CountBetween(19000, 19010), 2u);
  EXPECT_EQ(a_ioc.CountBetween(19001, 19010), 1u);
  EXPECT_EQ(a_ioc.CountBetween(19001, 19009), 0u);
  EXPECT_EQ(a_ioc.CountBetween(19010, 19000), 0u);
  EXPECT_EQ(a_ioc.CountBetween(-5, 70000), 2u);
  EXPECT_EQ(Inventory().smets1_undated_premises(), 1u);
}

TEST_F(MigrationLoadTest, TheDecoderCarriesTheInventorysInstallationDay) {
  AddPremises(1, dmc_a_, ioc_, 19000);
  Start();
  AlertEvent e;
  const std::string line =
      absl::StrCat(R"({"alert_id":"x","device_id":")", FormatDeviceId(MeterOf(1)),
                   R"(","alert_code":"8F40","event_time":)", kT0, "}");
  ASSERT_EQ(decoder_->Decode(line, kReplayNow, &e), RejectReason::kNone);
  EXPECT_EQ(e.installed_day, 19000);
  const std::string unknown =
      absl::StrCat(R"({"alert_id":"y","device_id":")", FormatDeviceId(MeterOf(99)),
                   R"(","alert_code":"8F40","event_time":)", kT0, "}");
  ASSERT_EQ(decoder_->Decode(unknown, kReplayNow, &e), RejectReason::kNone);
  EXPECT_EQ(e.installed_day, 0);
}

// ---- The projection, through the engine and the evaluator --------------------------------

TEST_F(MigrationLoadTest, TheProjectionIsTheFormulaOverTheScenariosFigures) {
  // Recent installations (day kDay0 - 29 .. kDay0 at the evaluation on kDay0) at several ages,
  // established ones from day kDay0 - 30 back; two DMCs, two cohorts.
  struct Premises {
    uint16_t dmc, cohort;
    int64_t age_days;  // at kDay0
    int alerts;        // in the 24 h before the evaluation
  };
  const std::vector<Premises> estate = {
      {dmc_a_, ioc_, 0, 9},    {dmc_a_, ioc_, 10, 7},  {dmc_a_, ioc_, 29, 5}, {dmc_a_, moc_, 3, 4},
      {dmc_a_, ioc_, 30, 2},   {dmc_a_, ioc_, 400, 1}, {dmc_b_, ioc_, 1, 12}, {dmc_b_, ioc_, 31, 3},
      {dmc_b_, ioc_, 2000, 0}, {dmc_b_, moc_, 100, 2},
  };
  const int64_t now = kT0 + 23 * kMsPerHour;  // evaluated on day kDay0
  config_.gonogo.planned_installations_per_day = 10000;
  config_.smets1_capacity_per_day = 500000;
  for (size_t i = 0; i < estate.size(); ++i) {
    AddPremises(i + 1, estate[i].dmc, estate[i].cohort,
                static_cast<int32_t>(kDay0 - estate[i].age_days));
  }
  AddPremises(100, dmc_a_, ioc_, 0);  // undated: its alerts count in the fleet's SMETS1 only
  Start();
  uint64_t all_alerts = 0;
  for (size_t i = 0; i < estate.size(); ++i) {
    for (int k = 0; k < estate[i].alerts; ++k) {
      // Alternating hub and meter, spread over the day (all within the 24 h window).
      const DeviceId dev = k % 2 == 0 ? HubOf(i + 1) : MeterOf(i + 1);
      Alert(dev, kT0 + k * 37 * kMsPerMinute);
      ++all_alerts;
    }
  }
  for (int k = 0; k < 6; ++k) {
    Alert(MeterOf(100), kT0 + k * kMsPerHour);
    ++all_alerts;
  }
  const RulesSnapshot s = Evaluate(now);
  const MigrationLoad& m = s.gonogo.migration;

  // The figures, from the scenario.
  uint64_t recent_n = 0, recent_alerts = 0, established_n = 0, established_alerts = 0;
  for (const Premises& p : estate) {
    if (p.age_days < 30) {
      ++recent_n;
      recent_alerts += static_cast<uint64_t>(p.alerts);
    } else {
      ++established_n;
      established_alerts += static_cast<uint64_t>(p.alerts);
    }
  }
  const double recent_rate = static_cast<double>(recent_alerts) / static_cast<double>(recent_n);
  EXPECT_TRUE(m.available) << m.reason;
  EXPECT_EQ(m.current_smets1_alerts_24h, all_alerts);
  EXPECT_EQ(m.recent_installations, recent_n);
  EXPECT_EQ(m.recent_alerts_24h, recent_alerts);
  EXPECT_EQ(m.established_installations, established_n);
  EXPECT_EQ(m.established_alerts_24h, established_alerts);
  EXPECT_EQ(m.undated_installations, 1u);
  EXPECT_DOUBLE_EQ(m.recent_rate, recent_rate);
  EXPECT_DOUBLE_EQ(m.established_rate,
                   static_cast<double>(established_alerts) / static_cast<double>(established_n));
  ASSERT_EQ(m.projections.size(), 2u);
  for (const MigrationProjection& p : m.projections) {
    const double expected = static_cast<double>(all_alerts) + 10000.0 * p.days * recent_rate;
    EXPECT_DOUBLE_EQ(p.alerts_per_day, expected) << p.days;
    EXPECT_DOUBLE_EQ(p.share_of_capacity, expected / 500000.0) << p.days;
    EXPECT_EQ(p.new_installations, 10000u * static_cast<uint64_t>(p.days));
  }
  EXPECT_EQ(m.projections[0].days, 7);
  EXPECT_EQ(m.projections[1].days, 30);
  EXPECT_DOUBLE_EQ(m.days_to_capacity,
                   (500000.0 - static_cast<double>(all_alerts)) / (10000.0 * recent_rate));

  // The criterion: the 30-day share against its amber 0.8 / red 1.0 (rules.yaml).
  const CriterionResult* c = FindCriterion(s.gonogo, "projected_smets1_alert_volume");
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->available) << c->detail;
  const double share30 = (static_cast<double>(all_alerts) + 10000.0 * 30 * recent_rate) / 500000.0;
  EXPECT_DOUBLE_EQ(c->value, share30);
  EXPECT_EQ(c->rag, ClassifyRag(share30, c->amber, c->red, false));
  EXPECT_NE(c->detail.find("10,000/day x 30 days"), std::string::npos) << c->detail;

  // Per DMC and cohort, by name.
  ASSERT_EQ(m.rows.size(), 4u);
  EXPECT_EQ(m.rows[0].dmc, "DMC-A");
  EXPECT_EQ(m.rows[0].cohort, "IOC");
  uint64_t a_ioc_recent = 0, a_ioc_recent_alerts = 0, a_ioc_est = 0, a_ioc_est_alerts = 0;
  for (const Premises& p : estate) {
    if (p.dmc != dmc_a_ || p.cohort != ioc_) continue;
    (p.age_days < 30 ? a_ioc_recent : a_ioc_est) += 1;
    (p.age_days < 30 ? a_ioc_recent_alerts : a_ioc_est_alerts) += static_cast<uint64_t>(p.alerts);
  }
  EXPECT_EQ(m.rows[0].recent_installations, a_ioc_recent);
  EXPECT_EQ(m.rows[0].recent_alerts_24h, a_ioc_recent_alerts);
  EXPECT_EQ(m.rows[0].established_installations, a_ioc_est);
  EXPECT_EQ(m.rows[0].established_alerts_24h, a_ioc_est_alerts);
  EXPECT_EQ(m.rows[3].dmc, "DMC-B");
  EXPECT_EQ(m.rows[3].cohort, "MOC");
  EXPECT_EQ(m.rows[3].recent_installations, 0u);
  EXPECT_TRUE(std::isnan(m.rows[3].recent_rate()));

  // The same figures in the API's JSON and the text report.
  JsonWriter w;
  report::WriteMigrationLoadJson(w, m);
  EXPECT_NE(w.str().find(absl::StrCat("\"current_smets1_alerts_24h\":", all_alerts)),
            std::string::npos)
      << w.str();
  EXPECT_NE(w.str().find("\"days\":7"), std::string::npos);
  const std::string text = report::MigrationLoadToText(m);
  EXPECT_NE(text.find("DMC-B"), std::string::npos) << text;
  EXPECT_NE(text.find("after 7 days"), std::string::npos) << text;
  EXPECT_NE(text.find("after 30 days"), std::string::npos) << text;
}

TEST_F(MigrationLoadTest, TheInstallationsCountAtTheEvaluationDay) {
  // Installed 29 days before kDay0: recent on kDay0, established on the next day.
  AddPremises(1, dmc_a_, ioc_, static_cast<int32_t>(kDay0 - 29));
  AddPremises(2, dmc_a_, ioc_, static_cast<int32_t>(kDay0 - 400));
  Start();
  Alert(HubOf(1), kT0 + 23 * kMsPerHour);  // recent at its event time
  Alert(HubOf(2), kT0 + 23 * kMsPerHour);
  MigrationLoad m = Evaluate(kT0 + 23 * kMsPerHour + kMsPerMinute).gonogo.migration;
  EXPECT_EQ(m.recent_installations, 1u);
  EXPECT_EQ(m.recent_alerts_24h, 1u);
  EXPECT_EQ(m.established_installations, 1u);
  // An hour later (the next day): the installation is established, its alert stays recent.
  Alert(HubOf(2), kT0 + 24 * kMsPerHour + 30 * kMsPerMinute);
  m = Evaluate(kT0 + 24 * kMsPerHour + 31 * kMsPerMinute).gonogo.migration;
  EXPECT_EQ(m.recent_installations, 0u);
  EXPECT_EQ(m.established_installations, 2u);
  EXPECT_EQ(m.recent_alerts_24h, 1u);
  EXPECT_EQ(m.established_alerts_24h, 2u);
  EXPECT_FALSE(m.available);  // no recent installations to take a rate from
  EXPECT_NE(m.reason.find("no SMETS1 installations in the last 30 days"), std::string::npos)
      << m.reason;
}

TEST_F(MigrationLoadTest, WithoutAnInventoryTheCriterionIsUnknownNeverGreen) {
  config_.gonogo.planned_installations_per_day = 10000;
  config_.smets1_capacity_per_day = 500000;
  config_.smets1_installations = 1000000;  // the other criteria have their data
  Start();
  const RulesSnapshot s = Evaluate(kT0);
  EXPECT_FALSE(s.gonogo.migration.available);
  EXPECT_NE(s.gonogo.migration.reason.find("no inventory"), std::string::npos);
  const CriterionResult* c = FindCriterion(s.gonogo, "projected_smets1_alert_volume");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->available);
  EXPECT_EQ(c->rag, Rag::kUnknown);
  EXPECT_NE(c->detail.find("no inventory"), std::string::npos) << c->detail;
  EXPECT_NE(s.gonogo.overall, Rag::kGreen);
}

TEST_F(MigrationLoadTest, WithoutAPlanOrACapacityTheMissingFiguresAreUnknown) {
  AddPremises(1, dmc_a_, ioc_, static_cast<int32_t>(kDay0 - 2));
  config_.gonogo.planned_installations_per_day = 0;
  config_.smets1_capacity_per_day = 0;
  Start();
  Alert(HubOf(1), kT0 + kMsPerHour);
  GoNoGoInputs in;
  MigrationLoad m = Evaluate(kT0 + 2 * kMsPerHour).gonogo.migration;
  EXPECT_FALSE(m.available);
  EXPECT_NE(m.reason.find("planned_installations_per_day"), std::string::npos) << m.reason;
  EXPECT_DOUBLE_EQ(m.recent_rate, 1.0);  // the rates are still reported

  // With a plan and no capacity: the per-day projections, no shares.
  const MigrationLoad planned =
      ComputeMigrationLoad(setup_.migration, ref_.inventory.get(), *ref_.dmcs, *ref_.cohorts,
                           std::vector<uint64_t>(setup_.migration.cells(), 0), 100, {5000, 0},
                           EventTime{kT0 + 2 * kMsPerHour});
  ASSERT_TRUE(planned.available) << planned.reason;
  ASSERT_EQ(planned.projections.size(), 2u);
  EXPECT_DOUBLE_EQ(planned.projections[0].alerts_per_day, 100.0);  // the rate is 0 here
  EXPECT_TRUE(std::isnan(planned.projections[0].share_of_capacity));
  AddMigrationLoadMetrics(planned, &in.metrics);
  EXPECT_TRUE(in.metrics["projected_smets1_alerts_per_day_30d"].available);
  EXPECT_FALSE(in.metrics["projected_smets1_alerts_30d_share_of_capacity"].available);
  EXPECT_NE(in.metrics["projected_smets1_alerts_30d_share_of_capacity"].detail.find("capacity"),
            std::string::npos);
}

TEST_F(MigrationLoadTest, AChangedRecentDaysNeedsARestart) {
  Start();
  RulesConfig next = config_;
  next.gonogo.recent_days = 14;
  const absl::Status s = evaluator_->Reload(next);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("gonogo.recent_days"), std::string::npos) << s;
  next.gonogo.recent_days = config_.gonogo.recent_days;
  next.gonogo.planned_installations_per_day = 1234;  // the plan may change at once
  EXPECT_TRUE(evaluator_->Reload(next).ok());
}

TEST(MigrationLoadStateTest, ALoadComesBackExactlyAndMalformedBytesFail) {
  MigrationLoad m;
  m.available = true;
  m.recent_days = 30;
  m.planned_installations_per_day = 10000;
  m.capacity_per_day = 500000;
  m.current_smets1_alerts_24h = 180000;
  m.recent_installations = 7;
  m.recent_alerts_24h = 33;
  m.recent_rate = 33.0 / 7;
  m.projections = {{7, 70000, 510000.5, 1.02}, {30, 300000, 1e6, 2.0}};
  m.rows = {{"A", "IOC", 7, 0, 33, 0}};
  BinaryWriter w = BinaryWriter::ToMemory();
  SaveMigrationLoad(w, m);
  const std::string bytes = w.TakeBytes();
  BinaryReader r = BinaryReader::FromMemory(bytes);
  const MigrationLoad back = LoadMigrationLoad(r);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(back.recent_rate, m.recent_rate);
  EXPECT_TRUE(std::isnan(back.established_rate));
  ASSERT_EQ(back.projections.size(), 2u);
  EXPECT_EQ(back.projections[1].alerts_per_day, 1e6);
  ASSERT_EQ(back.rows.size(), 1u);
  EXPECT_EQ(back.rows[0].recent_alerts_24h, 33u);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    BinaryReader truncated = BinaryReader::FromMemory(std::string_view(bytes).substr(0, cut));
    LoadMigrationLoad(truncated);
    EXPECT_FALSE(truncated.ok()) << cut;
  }
}

// ---- The generator's traffic, end to end -------------------------------------------------

TEST(MigrationLoadScenarioTest, TheGeneratorsRecentMigrationsShowAsTheReplaysProjection) {
  catalog::ReferenceData ref = testing::LoadTestReference();
  gen::GeneratorConfig g;
  g.premises = 20000;
  g.recent_migrations.smets1_share = 0.2;
  const std::string events = testing::TempPath("events.jsonl");
  const std::string inventory = testing::TempPath("inventory.csv");
  gen::Generator generator(*ref.areas, *ref.catalogue, g);
  {
    std::ofstream out(events, std::ios::binary);
    generator.Run([&](std::string_view line) { out << line << '\n'; });
    std::ofstream inv(inventory, std::ios::binary);
    generator.WriteInventoryCsv(inv);
  }

  pipeline::PipelineConfig config = testing::TestPipelineConfig(/*rules=*/true);
  config.engine.workers = 2;
  config.engine.expected_devices = size_t{1} << 16;
  config.engine.dedup_capacity = size_t{1} << 22;
  config.inventory_path = inventory;
  ManualClock clock(kReplayNow);
  auto p = testing::MakePipeline(config, clock);
  ASSERT_NE(p, nullptr);
  auto lines = ingest::ReplayFiles({events}, *p, clock, {});
  ASSERT_TRUE(lines.ok()) << lines.status();
  const RulesSnapshot s = p->evaluator()->Snapshot();
  const MigrationLoad& m = s.gonogo.migration;
  const int64_t now = s.evaluated_at.ms;
  const int64_t now_day = now / kMsPerDay;

  // Installations, independently from the CSV: SMETS1 premises (by MPAN), recent when installed
  // less than recent_days before the evaluation's day.
  const int32_t recent_days = m.recent_days;
  EXPECT_EQ(recent_days, 30);
  std::map<std::string, int32_t> premises_day;  // MPAN -> day (a hub and its meter agree)
  std::map<uint64_t, int32_t> device_day;
  bool header = true;
  for (const std::string& line : testing::ReadLines(inventory)) {
    if (header) {
      header = false;
      continue;
    }
    const std::vector<std::string> f = absl::StrSplit(line, ',');
    ASSERT_EQ(f.size(), 7u) << line;
    if (f[3] != "1") continue;
    const int32_t day = *ParseIsoDate(f[6]);
    premises_day[f[1]] = day;
    device_day[ParseDeviceId(f[0])->value] = day;
  }
  uint64_t recent_n = 0, established_n = 0;
  for (const auto& [mpan, day] : premises_day) {
    (now_day - day < recent_days ? recent_n : established_n) += 1;
  }
  EXPECT_GT(recent_n, 0u);
  EXPECT_NEAR(static_cast<double>(recent_n) / static_cast<double>(premises_day.size()), 0.2, 0.03);
  EXPECT_EQ(m.recent_installations, recent_n);
  EXPECT_EQ(m.established_installations, established_n);

  // Alerts: the unique valid SMETS1 lines in the 24 h view (the 24 hour buckets ending with the
  // evaluation's), classed at their own event time.
  decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  absl::flat_hash_set<uint64_t> seen;
  uint64_t recent_alerts = 0, established_alerts = 0, smets1_alerts = 0;
  const int64_t first_hour = now / kMsPerHour - 23;
  for (const std::string& line : testing::ReadLines(events)) {
    AlertEvent e;
    if (decoder.Decode(line, kReplayNow, &e) != RejectReason::kNone) continue;
    if (!seen.insert(e.alert_fingerprint).second) continue;
    const auto it = device_day.find(e.device.value);
    if (it == device_day.end()) continue;  // not an SMETS1 device (generation from inventory)
    const int64_t hour = e.event_time.ms / kMsPerHour;
    if (hour < first_hour || hour > now / kMsPerHour) continue;
    smets1_alerts += e.throttled_count;
    const int64_t day = e.event_time.ms / kMsPerDay;
    if (day < it->second) continue;
    (day - it->second < recent_days ? recent_alerts : established_alerts) += e.throttled_count;
  }
  EXPECT_EQ(m.recent_alerts_24h, recent_alerts);
  EXPECT_EQ(m.established_alerts_24h, established_alerts);
  EXPECT_EQ(m.current_smets1_alerts_24h, smets1_alerts);

  // The criterion, by the formula with rules.yaml's plan and capacity.
  ASSERT_TRUE(m.available) << m.reason;
  const double rate = static_cast<double>(recent_alerts) / static_cast<double>(recent_n);
  const RulesConfig& rules = p->evaluator()->config();
  const double share30 =
      (static_cast<double>(smets1_alerts) +
       static_cast<double>(rules.gonogo.planned_installations_per_day) * 30 * rate) /
      static_cast<double>(rules.smets1_capacity_per_day);
  const CriterionResult* c = FindCriterion(s.gonogo, "projected_smets1_alert_volume");
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->available) << c->detail;
  EXPECT_NEAR(c->value, share30, 1e-12 * share30);
  // And in the report an operator reads.
  const std::string text = report::GoNoGoToText(s.gonogo);
  EXPECT_NE(text.find("Migration load"), std::string::npos) << text;
}

}  // namespace
}  // namespace smetsmon::rules
