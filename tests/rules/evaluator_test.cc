// The rules on constructed event sequences, through the engine's per-event path and the
// evaluator: delivery within target and its RAG, voltage what-if, DNO floods, noisy devices,
// storms, power outages matched by premises, comms incidents, and the Go/No-Go.
#include "rules/evaluator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/fields.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"
#include "testing/rules_engine.h"

namespace smetsmon::rules {
namespace {

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z (a Monday, BST)

class EvaluatorTest : public ::testing::Test {
 protected:
  EvaluatorTest() : ref_(testing::LoadTestReference()), config_(testing::ShippedRules(ref_)) {}

  // Builds the engine and evaluator with the (possibly edited) config_.
  void Start(size_t workers = 2) {
    setup_ = testing::RuleInputsFor(ref_, config_);
    engine_ = testing::SmallEngine(ref_, workers, &setup_);
    auto ev = Evaluator::Create(*engine_, config_);
    ASSERT_TRUE(ev.ok()) << ev.status();
    evaluator_ = *std::move(ev);
  }

  AlertEvent Event(uint64_t device, const char* code, int64_t t, Generation g, const char* gsp) {
    AlertEvent e;
    e.device = DeviceId{device};
    e.alert_fingerprint = ++next_id_ * 0x9E3779B97F4A7C15ULL;
    e.event_time = EventTime{t};
    e.code = *ParseAlertCode(code);
    e.generation = g;
    e.present = AlertEvent::kHasSmets;
    if (gsp != nullptr) {
      e.area = ref_.areas->ByGspGroup(gsp[1]);
      e.present |= AlertEvent::kHasArea;
    }
    return e;
  }
  void Apply(const AlertEvent& e) { engine_->WorkerFor(e.device).Apply(e); }
  void Tick(int64_t t) {
    for (size_t w = 0; w < engine_->worker_count(); ++w) {
      engine_->worker(w).PublishRuleInputs();
    }
    evaluator_->Tick(EventTime{t}, /*force=*/true);
  }
  const Finding* OpenFinding(const RulesSnapshot& s, FindingKind kind, const std::string& scope) {
    for (const Finding& f : s.open_findings) {
      if (f.kind == kind && f.scope.find(scope) != std::string::npos) return &f;
    }
    return nullptr;
  }
  size_t Count(const std::vector<Finding>& list, FindingKind kind) {
    return static_cast<size_t>(
        std::count_if(list.begin(), list.end(), [&](const Finding& f) { return f.kind == kind; }));
  }

  catalog::ReferenceData ref_;
  RulesConfig config_;
  aggregate::RuleInputsSetup setup_;
  std::unique_ptr<aggregate::Engine> engine_;
  std::unique_ptr<Evaluator> evaluator_;
  uint64_t next_id_ = 0;
};

TEST_F(EvaluatorTest, HighPriorityListOverridesCatalogueClasses) {
  const auto slot = [&](const char* code) { return ref_.catalogue->SlotOf(*ParseAlertCode(code)); };
  ASSERT_EQ(config_.classes.front().name, "critical");
  EXPECT_EQ(config_.class_of_slot[slot("AD1")], 0);   // category outage.start is listed
  EXPECT_EQ(config_.class_of_slot[slot("8F36")], 0);  // outage.restored_long
  EXPECT_EQ(config_.class_of_slot[slot("8028")], 0);  // listed by code
  EXPECT_NE(config_.class_of_slot[slot("8F40")], 0);  // voltage: catalogue priority
}

TEST_F(EvaluatorTest, DeliveryShareWithinTargetAndRag) {
  Start();
  // 100 outage restorations in Eastern (critical, 30 s target): 92 within, 8 late by 2 min.
  for (int i = 0; i < 100; ++i) {
    AlertEvent e = Event(1000 + i, "8F35", kT0 + i * 1000, Generation::kSmets2, "_A");
    e.present |= AlertEvent::kHasDccTime;
    e.dcc_time = EventTime{e.event_time.ms + (i < 92 ? 4'000 : 120'000)};
    Apply(e);
  }
  Tick(kT0 + 10 * kMsPerMinute);
  RulesSnapshot s = evaluator_->Snapshot();
  const DeliveryRow* central = nullptr;
  for (const DeliveryRow& r : s.delivery) {
    if (r.priority == "critical" && r.region == "central" && r.window == "24h") central = &r;
  }
  ASSERT_NE(central, nullptr);
  EXPECT_EQ(central->delivered, 100u);
  EXPECT_EQ(central->within_target, 92u);
  EXPECT_DOUBLE_EQ(central->share, 0.92);
  EXPECT_EQ(central->rag, Rag::kAmber);  // between minimum 0.90 and target 0.95
  // Latency histogram: 4 s lands in the (1 s, 5 s] bucket, 2 min in (1 m, 2 m].
  EXPECT_EQ(central->latency_buckets[1], 92u);
  EXPECT_EQ(central->latency_buckets[5], 8u);
  EXPECT_EQ(OpenFinding(s, FindingKind::kDeliveryBelowMinimum, "region=central"), nullptr);

  // 40 more, all late: 92 of 140 = 66 % -> red and a finding.
  for (int i = 0; i < 40; ++i) {
    AlertEvent e = Event(2000 + i, "AD1", kT0 + 11 * kMsPerMinute + i, Generation::kSmets2, "_A");
    e.present |= AlertEvent::kHasDccTime;
    e.dcc_time = EventTime{e.event_time.ms + 600'000};
    Apply(e);
  }
  Tick(kT0 + 12 * kMsPerMinute);
  s = evaluator_->Snapshot();
  const Finding* f = OpenFinding(s, FindingKind::kDeliveryBelowMinimum, "region=central");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kCritical);
  EXPECT_NE(f->explanation.find("92 of 140"), std::string::npos) << f->explanation;
  // The month view holds the same alerts; the 1 h view too.
  for (const DeliveryRow& r : s.delivery) {
    if (r.priority == "critical" && r.region == "all") {
      EXPECT_EQ(r.delivered, 140u) << r.window;
    }
  }
}

TEST_F(EvaluatorTest, VoltageWhatIfCountsStoppedAlertsPerLevelAreaAndDmc) {
  Start();
  const uint16_t dmc = ref_.dmcs->Intern("HONEYWELL-ELSTER-AS300");
  const int32_t volts[] = {2535, 2560, 2590, 2610, 2540};
  for (int i = 0; i < 5; ++i) {
    AlertEvent e = Event(3000 + i, "8F40", kT0 + i * 1000, Generation::kSmets1, "_B");
    e.present |= AlertEvent::kHasVoltage | AlertEvent::kHasDmc;
    e.voltage_dv = volts[i];
    e.dmc = DmcId{dmc};
    Apply(e);
  }
  // An SMETS2 8F40 has no what-if rule: not counted.
  AlertEvent s2 = Event(3100, "8F40", kT0 + 9000, Generation::kSmets2, "_B");
  s2.present |= AlertEvent::kHasVoltage;
  s2.voltage_dv = 2550;
  Apply(s2);
  Tick(kT0 + 2 * kMsPerMinute);
  const RulesSnapshot s = evaluator_->Snapshot();
  const WhatIfRow* all = nullptr;
  const WhatIfRow* area = nullptr;
  const WhatIfRow* by_dmc = nullptr;
  for (const WhatIfRow& r : s.whatif) {
    if (r.rule != "SMETS1 8F40" || r.window != "24h") continue;
    if (r.scope == "all") all = &r;
    if (r.scope == "area=East Midlands") area = &r;
    if (r.scope == "dmc=HONEYWELL-ELSTER-AS300") by_dmc = &r;
  }
  ASSERT_NE(all, nullptr);
  ASSERT_NE(area, nullptr);
  ASSERT_NE(by_dmc, nullptr);
  // Levels 2530, 2550, 2580, 2600: an over-voltage alert stops when the level is >= its voltage.
  EXPECT_EQ(all->alerts, 5u);
  EXPECT_EQ(all->stopped, (std::vector<uint64_t>{0, 2, 3, 4}));
  EXPECT_EQ(area->stopped, all->stopped);
  EXPECT_EQ(by_dmc->stopped, all->stopped);
  EXPECT_EQ(all->sentence,
            "Of 5 SMETS1 8F40 alerts in the last 24 h, raising the level from 253.0 V would have "
            "stopped 2 (40.0 %) at 255.0 V, 3 (60.0 %) at 258.0 V, 4 (80.0 %) at 260.0 V.");
}

TEST_F(EvaluatorTest, DnoFloodOpensOverThresholdAndClearsWhenTheDayMovesOn) {
  config_.dno_floods.front().threshold_per_day = 50;
  Start();
  for (int i = 0; i < 60; ++i) {  // SMETS1 power factor alerts in Yorkshire
    Apply(Event(4000 + i % 7, "8014", kT0 + i * 10'000, Generation::kSmets1, "_M"));
  }
  Tick(kT0 + 15 * kMsPerMinute);
  RulesSnapshot s = evaluator_->Snapshot();
  const Finding* f = OpenFinding(s, FindingKind::kDnoFlood, "area=Yorkshire");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->explanation.find("Northern Powergrid"), std::string::npos) << f->explanation;
  EXPECT_EQ(f->figures.at("alerts_24h"), 60);
  EXPECT_EQ(s.gonogo.criteria.size(), config_.gonogo.criteria.size());
  // A day later the window no longer holds them.
  Apply(Event(4999, "8F3D", kT0 + 25 * kMsPerHour, Generation::kSmets2, "_M"));
  Tick(kT0 + 25 * kMsPerHour);
  s = evaluator_->Snapshot();
  EXPECT_EQ(OpenFinding(s, FindingKind::kDnoFlood, "area=Yorkshire"), nullptr);
  EXPECT_EQ(Count(s.closed_findings, FindingKind::kDnoFlood), 1u);
}

TEST_F(EvaluatorTest, NoisyDevicesListedWithDominantCodes) {
  config_.noisy_threshold_24h = 30;
  Start();
  for (int i = 0; i < 40; ++i) {  // device 5000: 30 x 8F40 and 10 x 8014 in 40 minutes
    Apply(Event(5000, i % 4 == 3 ? "8014" : "8F40", kT0 + i * kMsPerMinute, Generation::kSmets1,
                "_C"));
  }
  for (int i = 0; i < 10; ++i) {  // device 5001: quiet
    Apply(Event(5001, "8F40", kT0 + i * kMsPerMinute, Generation::kSmets1, "_C"));
  }
  Tick(kT0 + 41 * kMsPerMinute);
  const RulesSnapshot s = evaluator_->Snapshot();
  EXPECT_EQ(s.noisy_devices, 1u);
  EXPECT_EQ(s.noisy_smets1_devices, 1u);
  ASSERT_EQ(s.noisy_top.size(), 1u);
  EXPECT_EQ(s.noisy_top[0].device_id, FormatDeviceId(DeviceId{5000}));
  EXPECT_EQ(s.noisy_top[0].alerts_24h, 40u);
  ASSERT_FALSE(s.noisy_top[0].top_codes.empty());
  EXPECT_EQ(s.noisy_top[0].top_codes[0].first, "8F40");
  ASSERT_EQ(s.noisy_top_by_area.count("London"), 1u);
  EXPECT_EQ(s.noisy_top_by_area.at("London").at(0).device_id, s.noisy_top[0].device_id);
  ASSERT_NE(OpenFinding(s, FindingKind::kNoisyDevices, "area=London"), nullptr);
}

TEST_F(EvaluatorTest, PowerCutMatchedByPremisesOpensAndCloses) {
  Start();
  const AreaId nw = ref_.areas->ByGspGroup('G');
  // 40 premises in North West: hubs (ids 6000+) send AD1 within 90 s; meters (ids 7000+) at the
  // same MPANs restore 20 minutes later.
  for (int i = 0; i < 40; ++i) {
    AlertEvent e = Event(6000 + i, "AD1", kT0 + i * 2000, Generation::kSmets2, "_G");
    e.mpxn = 1612345678900ULL + static_cast<uint64_t>(i);
    Apply(e);
  }
  Tick(kT0 + 3 * kMsPerMinute);
  RulesSnapshot s = evaluator_->Snapshot();
  const Finding* f = OpenFinding(s, FindingKind::kPowerOutage, "North West");
  ASSERT_NE(f, nullptr) << "open findings: " << s.open_findings.size();
  EXPECT_EQ(f->area, nw);
  EXPECT_EQ(f->severity, Severity::kCritical);
  for (int i = 0; i < 40; ++i) {
    AlertEvent e =
        Event(7000 + i, "8F36", kT0 + 20 * kMsPerMinute + i * 1000, Generation::kSmets2, "_G");
    e.mpxn = 1612345678900ULL + static_cast<uint64_t>(i);
    Apply(e);
  }
  Tick(kT0 + 45 * kMsPerMinute);
  s = evaluator_->Snapshot();
  EXPECT_EQ(OpenFinding(s, FindingKind::kPowerOutage, "North West"), nullptr);
  ASSERT_EQ(Count(s.closed_findings, FindingKind::kPowerOutage), 1u);
  const Finding& closed =
      *std::find_if(s.closed_findings.begin(), s.closed_findings.end(),
                    [](const Finding& x) { return x.kind == FindingKind::kPowerOutage; });
  EXPECT_EQ(closed.figures.at("affected_premises"), 40);
  EXPECT_EQ(closed.figures.at("restored_premises"), 40);
  EXPECT_EQ(closed.figures.at("long_interruptions"), 40);
  EXPECT_EQ(Count(s.open_findings, FindingKind::kCommsIncident), 0u);
  EXPECT_EQ(Count(s.closed_findings, FindingKind::kCommsIncident), 0u);
}

TEST_F(EvaluatorTest, RestorationFloodWithoutOutageIsACommsIncident) {
  Start();
  const char* gsps[] = {"_A", "_B", "_E", "_K"};  // all central
  for (int i = 0; i < 400; ++i) {
    AlertEvent e = Event(8000 + i, "8F35", kT0 + i * 500, Generation::kSmets2, gsps[i % 4]);
    e.mpxn = 1012345678900ULL + static_cast<uint64_t>(i);
    Apply(e);
  }
  Tick(kT0 + 4 * kMsPerMinute);
  const RulesSnapshot s = evaluator_->Snapshot();
  const Finding* f = OpenFinding(s, FindingKind::kCommsIncident, "central");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->explanation.find("not a power cut"), std::string::npos) << f->explanation;
  EXPECT_EQ(Count(s.open_findings, FindingKind::kPowerOutage), 0u);
}

TEST_F(EvaluatorTest, StormOpensOnABurstAboveTheLearnedBaseline) {
  config_.storm.warmup_ms = 30 * kMsPerMinute;
  config_.storm.min_duration_ms = 5 * kMsPerMinute;
  Start();
  int64_t t = kT0;
  uint64_t device = 9000;
  // Three hours of 2 firmware alerts a minute in South Wales (120/h), ticking every minute.
  for (int minute = 0; minute < 180; ++minute, t += kMsPerMinute) {
    for (int k = 0; k < 2; ++k)
      Apply(Event(device++, "8F72", t + k * 1000, Generation::kSmets2, "_K"));
    Tick(t + 2000);
  }
  RulesSnapshot s = evaluator_->Snapshot();
  const Finding* early = OpenFinding(s, FindingKind::kStorm, "area=South Wales category=firmware");
  EXPECT_EQ(early, nullptr) << early->explanation;
  // Then 40 a minute (2,400/h) for 15 minutes.
  for (int minute = 0; minute < 15; ++minute, t += kMsPerMinute) {
    for (int k = 0; k < 40; ++k)
      Apply(Event(device++, "8F72", t + k * 1000, Generation::kSmets2, "_K"));
    Tick(t + 41'000);
  }
  s = evaluator_->Snapshot();
  const Finding* f = OpenFinding(s, FindingKind::kStorm, "area=South Wales category=firmware");
  ASSERT_NE(f, nullptr);
  EXPECT_GT(f->figures.at("rate_per_hour"), 1000);
  EXPECT_LT(f->figures.at("baseline_per_hour"), 200);
}

TEST_F(EvaluatorTest, GoNoGoTurnsRedOnAnSmets1Flood) {
  config_.smets1_installations = 1000;
  Start();
  Tick(kT0);  // the first evaluation arms the daily schedule
  // 1000 installations; 6,000 SMETS1 alerts in a day = 6 per installation (red at 5).
  for (int i = 0; i < 6000; ++i) {
    Apply(Event(10000 + i % 900, "8F40", kT0 + i * 10'000, Generation::kSmets1, "_L"));
  }
  Tick(kT0 + 6000 * 10'000LL);
  const RulesSnapshot s = evaluator_->Snapshot();
  const CriterionResult* c = nullptr;
  for (const CriterionResult& r : s.gonogo.criteria) {
    if (r.id == "smets1_alerts_per_installation") c = &r;
  }
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->available);
  EXPECT_GT(c->value, 5.0);
  EXPECT_EQ(c->rag, Rag::kRed);
  EXPECT_EQ(s.gonogo.overall, Rag::kRed);
  EXPECT_EQ(s.gonogo.recommendation, "pause the migration");
  // The replay crossed 06:00 London time (05:00Z) once: one daily decision recorded.
  ASSERT_EQ(s.gonogo_history.size(), 1u);
  EXPECT_TRUE(s.gonogo_history[0].daily);
  EXPECT_EQ(s.gonogo_history[0].local_date, "2023-06-26");
}

TEST_F(EvaluatorTest, ReloadChangesThresholdsAtOnceAndRefusesPerEventChanges) {
  Start();
  for (int i = 0; i < 60; ++i) {
    Apply(Event(4000 + i % 7, "8014", kT0 + i * 10'000, Generation::kSmets1, "_M"));
  }
  Tick(kT0 + 15 * kMsPerMinute);
  EXPECT_EQ(OpenFinding(evaluator_->Snapshot(), FindingKind::kDnoFlood, "area=Yorkshire"), nullptr);

  RulesConfig lower = config_;
  lower.dno_floods.front().threshold_per_day = 50;
  ASSERT_TRUE(evaluator_->Reload(lower).ok());
  Tick(kT0 + 16 * kMsPerMinute);
  EXPECT_NE(OpenFinding(evaluator_->Snapshot(), FindingKind::kDnoFlood, "area=Yorkshire"), nullptr);

  RulesConfig levels = lower;
  levels.voltage_whatif.front().rule.candidates_dv.push_back(2700);
  levels.classes.front().target_ms = 1000;
  const absl::Status refused = evaluator_->Reload(levels);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("voltage_whatif"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("priorities"), std::string::npos) << refused;
  // Refused means nothing changed: the lowered flood threshold still applies.
  Tick(kT0 + 17 * kMsPerMinute);
  EXPECT_NE(OpenFinding(evaluator_->Snapshot(), FindingKind::kDnoFlood, "area=Yorkshire"), nullptr);

  // Which class a code belongs to (a catalogue priority, the high-priority list) may change: the
  // workers take the new table between batches.
  RulesConfig moved = lower;
  const size_t slot = ref_.catalogue->SlotOf(*ParseAlertCode("8014"));
  moved.class_of_slot[slot] =
      static_cast<uint8_t>((moved.class_of_slot[slot] + 1) % moved.classes.size());
  ASSERT_TRUE(evaluator_->Reload(moved).ok());
  EXPECT_EQ(evaluator_->config().class_of_slot, moved.class_of_slot);
}

TEST_F(EvaluatorTest, AReloadedClassTableCountsACodesNewAlertsInItsNewClass) {
  Start();
  const size_t slot = ref_.catalogue->SlotOf(*ParseAlertCode("8F72"));
  const auto class_named = [&](const std::string& name) {
    for (size_t i = 0; i < config_.classes.size(); ++i) {
      if (config_.classes[i].name == name) return static_cast<uint8_t>(i);
    }
    ADD_FAILURE() << "no class " << name;
    return uint8_t{0};
  };
  ASSERT_EQ(config_.class_of_slot[slot], class_named("low"));
  int device = 7000;
  const auto send = [&](int n, int64_t t0) {
    for (int i = 0; i < n; ++i) {
      AlertEvent e = Event(++device, "8F72", t0 + i * 1000, Generation::kSmets2, "_A");
      e.present |= AlertEvent::kHasDccTime;
      e.dcc_time = EventTime{e.event_time.ms + 2'000};
      Apply(e);
    }
  };
  const auto delivered = [&](const std::string& priority) {
    for (const DeliveryRow& r : evaluator_->Snapshot().delivery) {
      if (r.priority == priority && r.region == "central" && r.window == "24h") return r.delivered;
    }
    return uint64_t{0};
  };
  send(10, kT0);
  RulesConfig moved = config_;
  moved.class_of_slot[slot] = class_named("normal");
  ASSERT_TRUE(evaluator_->Reload(moved).ok());
  auto table = std::make_shared<const std::vector<uint8_t>>(moved.class_of_slot);
  for (size_t w = 0; w < engine_->worker_count(); ++w) {
    engine_->worker(w).rule_inputs()->SetClassOfSlot(table);
    EXPECT_EQ(engine_->worker(w).rule_inputs()->class_of_slot(), moved.class_of_slot);
  }
  send(4, kT0 + 60'000);
  Tick(kT0 + 5 * kMsPerMinute);
  // What was counted stays in its class; the new alerts count in the new one.
  EXPECT_EQ(delivered("low"), 10u);
  EXPECT_EQ(delivered("normal"), 4u);
}

TEST_F(EvaluatorTest, ReloadRestartsAChangedDetectorAndClosesItsOpenFindings) {
  Start();
  for (int i = 0; i < 40; ++i) {
    AlertEvent e = Event(6000 + i, "AD1", kT0 + i * 2000, Generation::kSmets2, "_G");
    e.mpxn = 1612345678900ULL + static_cast<uint64_t>(i);
    Apply(e);
  }
  Tick(kT0 + 3 * kMsPerMinute);
  ASSERT_NE(OpenFinding(evaluator_->Snapshot(), FindingKind::kPowerOutage, "North West"), nullptr);
  RulesConfig changed = config_;
  changed.outage.min_premises = 100;
  ASSERT_TRUE(evaluator_->Reload(changed).ok());
  Tick(kT0 + 4 * kMsPerMinute);
  const RulesSnapshot s = evaluator_->Snapshot();
  EXPECT_EQ(OpenFinding(s, FindingKind::kPowerOutage, "North West"), nullptr);
  ASSERT_EQ(Count(s.closed_findings, FindingKind::kPowerOutage), 1u);
  const auto closed =
      std::find_if(s.closed_findings.begin(), s.closed_findings.end(),
                   [](const Finding& f) { return f.kind == FindingKind::kPowerOutage; });
  EXPECT_NE(closed->explanation.find("rules reload"), std::string::npos) << closed->explanation;
}

TEST_F(EvaluatorTest, EventsOlderThanTheWindowsAreNotCountedInWhatIf) {
  Start();
  AlertEvent now = Event(3000, "8F40", kT0 + 30 * kMsPerHour, Generation::kSmets1, "_B");
  now.present |= AlertEvent::kHasVoltage;
  now.voltage_dv = 2560;
  Apply(now);
  // 26 h older than the stream time: beyond the 24 h window plus lateness.
  AlertEvent late = Event(3001, "8F40", kT0 + 4 * kMsPerHour, Generation::kSmets1, "_B");
  late.present |= AlertEvent::kHasVoltage;
  late.voltage_dv = 2560;
  Apply(late);
  Tick(kT0 + 30 * kMsPerHour);
  for (const WhatIfRow& r : evaluator_->Snapshot().whatif) {
    if (r.rule == "SMETS1 8F40" && r.scope == "all" && r.window == "24h") {
      EXPECT_EQ(r.alerts, 1u);
    }
  }
}

}  // namespace
}  // namespace smetsmon::rules
