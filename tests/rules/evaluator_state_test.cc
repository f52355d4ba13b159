// The evaluator's checkpoint state (Evaluator::SaveState/LoadState): an evaluator restored
// mid-stream goes on exactly as one that never stopped (storms, a power cut, a comms incident,
// DNO floods, daily Go/No-Go decisions); open findings keep their ids and starts and a storm its
// learned baseline; a part taken under changed settings starts afresh while the rest comes back;
// truncated or damaged state is refused (DataLoss) without a crash.
//
// An evaluator reads the engine it was created with, and the engine hands each outage signal to
// one reader only. So every "life" here is an engine and an evaluator fed the same events: the
// restored evaluator's engine went through part 1 with a stand-in evaluator (as the daemon's
// engine goes through it before its checkpoint), and the restored evaluator takes over from it.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "base/binary_file.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "report/rules_json.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"
#include "testing/rules_engine.h"

namespace smetsmon::rules {
namespace {

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z (a Monday, BST)
constexpr int64_t kPart1End = kT0 + 6 * kMsPerHour;
constexpr uint64_t kMpanNorthWest = 1612345678900ULL;
constexpr uint64_t kMpanCentral = 1012345678900ULL;

// The rules' published state as the API and the replay report write it.
std::string Json(const Evaluator& ev) {
  const RulesSnapshot s = ev.Snapshot();
  JsonWriter w;
  w.BeginObject();
  w.Key("evaluated_at").Int(s.evaluated_at.ms);
  w.Key("findings");
  report::WriteFindings(w, s);
  w.Key("delivery");
  report::WriteDelivery(w, s.delivery, s.delivery_csp, ev.config().latency_bounds_ms);
  w.Key("whatif");
  report::WriteWhatIf(w, s.whatif);
  w.Key("noisy");
  report::WriteNoisy(w, s);
  w.Key("gonogo");
  report::WriteGoNoGo(w, s);
  w.Key("outage_signals").Uint(s.outage_signals);
  w.Key("outage_signals_dropped").Uint(s.outage_signals_dropped);
  w.EndObject();
  return w.str();
}

std::string Save(const Evaluator& ev) {
  BinaryWriter w = BinaryWriter::ToMemory();
  ev.SaveState(w);
  EXPECT_TRUE(w.ok());
  return w.TakeBytes();
}

// Equal states, or where they first differ (states are binary and long: no dump).
::testing::AssertionResult SameState(const std::string& a, const std::string& b) {
  if (a == b) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return ::testing::AssertionFailure()
         << "states of " << a.size() << " and " << b.size() << " bytes differ from byte " << i;
}

// LoadState over `bytes`, then the caller's Finish (every byte consumed).
absl::Status Load(Evaluator& ev, std::string_view bytes) {
  BinaryReader r = BinaryReader::FromMemory(bytes);
  if (absl::Status s = ev.LoadState(r); !s.ok()) return s;
  return r.Finish();
}

const Finding* FindOpen(const RulesSnapshot& s, FindingKind kind, const std::string& scope = "") {
  for (const Finding& f : s.open_findings) {
    if (f.kind == kind && f.scope.find(scope) != std::string::npos) return &f;
  }
  return nullptr;
}
const Finding* FindClosed(const RulesSnapshot& s, FindingKind kind) {
  for (const Finding& f : s.closed_findings) {
    if (f.kind == kind) return &f;
  }
  return nullptr;
}

class EvaluatorStateTest : public ::testing::Test {
 protected:
  // An engine and the evaluator reading it.
  struct Life {
    std::unique_ptr<aggregate::Engine> engine;
    std::unique_ptr<Evaluator> evaluator;
  };

  EvaluatorStateTest() : ref_(testing::LoadTestReference()), config_(testing::ShippedRules(ref_)) {
    // Storms learn within the test's hours; SMETS1 figures and DNO floods have data.
    config_.storm.warmup_ms = 30 * kMsPerMinute;
    config_.storm.min_duration_ms = 5 * kMsPerMinute;
    config_.smets1_installations = 1000;
    config_.dno_floods.front().threshold_per_day = 50;
    setup_ = testing::RuleInputsFor(ref_, config_);
  }

  std::unique_ptr<Life> NewLife() {
    auto life = std::make_unique<Life>();
    life->engine = testing::SmallEngine(ref_, 2, &setup_);
    life->evaluator = NewEvaluator(*life, config_);
    return life;
  }
  std::unique_ptr<Evaluator> NewEvaluator(Life& life, const RulesConfig& config) {
    auto ev = Evaluator::Create(*life.engine, config);
    EXPECT_TRUE(ev.ok()) << ev.status();
    return ev.ok() ? *std::move(ev) : nullptr;
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
  // Every life gets the same events and the same ticks.
  void Apply(const AlertEvent& e) {
    for (Life* l : lives_) l->engine->WorkerFor(e.device).Apply(e);
  }
  void Tick(int64_t t) {
    for (Life* l : lives_) {
      for (size_t w = 0; w < l->engine->worker_count(); ++w) {
        l->engine->worker(w).PublishRuleInputs();
      }
      l->evaluator->Tick(EventTime{t}, /*force=*/true);
    }
  }

  // Background: 10 firmware alerts in South Wales (120/h over the 5-minute rate window) and 6
  // SMETS1 over-voltage alerts in London (a DNO flood at 50 a day, Go/No-Go figures).
  void Background(int64_t t) {
    for (int k = 0; k < 10; ++k) {
      Apply(Event(device_++, "8F72", t + k * 1000, Generation::kSmets2, "_K"));
    }
    for (int k = 0; k < 6; ++k) {
      AlertEvent e =
          Event(20000 + (device_++ % 50), "8F40", t + k * 1000, Generation::kSmets1, "_C");
      e.present |= AlertEvent::kHasVoltage;
      e.voltage_dv = 2540 + k * 10;
      Apply(e);
    }
  }
  // A storm minute: 40 firmware alerts in South Wales (2,400/h).
  void StormMinute(int64_t t) {
    for (int k = 0; k < 40; ++k) {
      Apply(Event(device_++, "8F72", t + k * 1000, Generation::kSmets2, "_K"));
    }
  }

  // 00:00Z-06:00Z: 5.5 h of background (crossing the 06:00 London decision), then a storm from
  // 05:30Z, a power cut in North West at 05:40Z and a restoration flood with no outage in the
  // central region from 05:56Z; all three are open at the end.
  void Part1() {
    Tick(kT0);  // arms the daily schedule
    int64_t t = kT0;
    for (; t < kT0 + 330 * kMsPerMinute; t += 5 * kMsPerMinute) {
      Background(t);
      Tick(t + kMsPerMinute);
    }
    for (int minute = 0; minute < 30; ++minute, t += kMsPerMinute) {
      StormMinute(t);
      if (minute == 10) {  // 40 hubs lose supply within 80 s
        for (int i = 0; i < 40; ++i) {
          AlertEvent e = Event(6000 + i, "AD1", t + i * 2000, Generation::kSmets2, "_G");
          e.mpxn = kMpanNorthWest + static_cast<uint64_t>(i);
          Apply(e);
        }
      }
      if (minute == 26) {  // 400 restorations without an outage, over 200 s
        const char* gsps[] = {"_A", "_B", "_E", "_K"};
        for (int i = 0; i < 400; ++i) {
          AlertEvent e = Event(8000 + i, "8F35", t + i * 500, Generation::kSmets2, gsps[i % 4]);
          e.mpxn = kMpanCentral + static_cast<uint64_t>(i);
          Apply(e);
        }
      }
      Tick(t + 59'000);
    }
  }

  // 06:00Z-30:00Z: the storm goes on for 20 minutes then calms down (and closes), the North West
  // premises are restored from 06:10Z (the power cut closes), the comms incident's restorations
  // leave the window (it closes), and the next day's 06:00 London decision is taken.
  void Part2() {
    int64_t t = kPart1End;
    for (int minute = 0; minute < 20; ++minute, t += kMsPerMinute) {
      StormMinute(t);
      if (minute == 10) {
        for (int i = 0; i < 40; ++i) {
          AlertEvent e = Event(7000 + i, "8F36", t + i * 1000, Generation::kSmets2, "_G");
          e.mpxn = kMpanNorthWest + static_cast<uint64_t>(i);
          Apply(e);
        }
      }
      Tick(t + 59'000);
    }
    for (; t < kT0 + 30 * kMsPerHour; t += 10 * kMsPerMinute) {
      Background(t);
      Tick(t + kMsPerMinute);
    }
  }

  catalog::ReferenceData ref_;
  RulesConfig config_;
  aggregate::RuleInputsSetup setup_;
  std::vector<Life*> lives_;
  uint64_t next_id_ = 0;
  uint64_t device_ = 100000;
};

TEST_F(EvaluatorStateTest, ARestoredEvaluatorGoesOnAsOneThatNeverStopped) {
  // A never stops; B's engine runs part 1 under a stand-in evaluator that B replaces from A's
  // state; C's engine does the same but C starts afresh (the control: without the state, the
  // answers differ).
  auto a = NewLife();
  auto b = NewLife();
  auto c = NewLife();
  lives_ = {a.get(), b.get(), c.get()};
  Part1();
  const RulesSnapshot at_checkpoint = a->evaluator->Snapshot();
  ASSERT_NE(FindOpen(at_checkpoint, FindingKind::kStorm, "area=South Wales category=firmware"),
            nullptr);
  ASSERT_NE(FindOpen(at_checkpoint, FindingKind::kPowerOutage, "North West"), nullptr);
  ASSERT_NE(FindOpen(at_checkpoint, FindingKind::kCommsIncident, "central"), nullptr);
  ASSERT_NE(FindOpen(at_checkpoint, FindingKind::kDnoFlood, "London"), nullptr);
  ASSERT_EQ(at_checkpoint.gonogo_history.size(), 1u);

  const std::string state = Save(*a->evaluator);
  b->evaluator = NewEvaluator(*b, config_);
  ASSERT_TRUE(Load(*b->evaluator, state).ok());
  c->evaluator = NewEvaluator(*c, config_);
  // Restored exactly: B's state is A's, byte for byte.
  EXPECT_TRUE(SameState(Save(*b->evaluator), state));

  Part2();
  const RulesSnapshot end = a->evaluator->Snapshot();
  // Part 2 closed what part 1 opened (each only with its state: the storm's frozen threshold,
  // the outage's premises, the incident's restorations).
  EXPECT_EQ(FindOpen(end, FindingKind::kStorm), nullptr);
  EXPECT_EQ(FindOpen(end, FindingKind::kPowerOutage), nullptr);
  EXPECT_EQ(FindOpen(end, FindingKind::kCommsIncident), nullptr);
  const Finding* outage = FindClosed(end, FindingKind::kPowerOutage);
  ASSERT_NE(outage, nullptr);
  EXPECT_EQ(outage->figures.at("restored_premises"), 40);
  EXPECT_EQ(end.gonogo_history.size(), 2u);

  EXPECT_EQ(Json(*b->evaluator), Json(*a->evaluator));
  EXPECT_TRUE(SameState(Save(*b->evaluator), Save(*a->evaluator)));
  EXPECT_EQ(b->evaluator->evaluations(), a->evaluator->evaluations());
  EXPECT_NE(Json(*c->evaluator), Json(*a->evaluator));
}

TEST_F(EvaluatorStateTest, OpenFindingsKeepTheirIdsAndStartsAndAStormItsBaseline) {
  auto a = NewLife();
  auto b = NewLife();
  lives_ = {a.get(), b.get()};
  Part1();
  b->evaluator = NewEvaluator(*b, config_);
  ASSERT_TRUE(Load(*b->evaluator, Save(*a->evaluator)).ok());

  // Published at once: the same findings, Go/No-Go and history, before any tick.
  const RulesSnapshot before = a->evaluator->Snapshot();
  const RulesSnapshot restored = b->evaluator->Snapshot();
  EXPECT_EQ(restored.evaluated_at, before.evaluated_at);
  ASSERT_EQ(restored.open_findings.size(), before.open_findings.size());
  for (size_t i = 0; i < before.open_findings.size(); ++i) {
    EXPECT_EQ(restored.open_findings[i].id, before.open_findings[i].id);
    EXPECT_EQ(restored.open_findings[i].start, before.open_findings[i].start);
    EXPECT_EQ(restored.open_findings[i].explanation, before.open_findings[i].explanation);
  }
  EXPECT_EQ(restored.closed_findings.size(), before.closed_findings.size());
  EXPECT_EQ(restored.gonogo.overall, before.gonogo.overall);
  EXPECT_EQ(restored.gonogo.criteria.size(), before.gonogo.criteria.size());
  ASSERT_EQ(restored.gonogo_history.size(), 1u);
  EXPECT_EQ(restored.gonogo_history[0].local_date, "2023-06-26");
  EXPECT_EQ(restored.gonogo_history[0].recommendation, before.gonogo_history[0].recommendation);
  EXPECT_EQ(restored.outage_signals, before.outage_signals);

  // The next minute: B's storm is the same storm against the same learned baseline (B is not
  // warming up again).
  StormMinute(kPart1End);
  Tick(kPart1End + 59'000);
  const std::string scope = "area=South Wales category=firmware";
  const RulesSnapshot after_a = a->evaluator->Snapshot();
  const Finding* fa = FindOpen(after_a, FindingKind::kStorm, scope);
  const RulesSnapshot after = b->evaluator->Snapshot();
  const Finding* fb = FindOpen(after, FindingKind::kStorm, scope);
  ASSERT_NE(fa, nullptr);
  ASSERT_NE(fb, nullptr);
  EXPECT_EQ(fb->id, fa->id);
  EXPECT_EQ(fb->start, fa->start);
  EXPECT_EQ(fb->figures.at("baseline_known"), 1);
  EXPECT_EQ(fb->figures.at("baseline_per_hour"), fa->figures.at("baseline_per_hour"));
  // The background's 120/h, as the recent level learned it (its hours are not known yet).
  EXPECT_NEAR(fb->figures.at("baseline_per_hour"), 120, 15);
  EXPECT_EQ(fb->figures.at("baseline_learned_for_hour"), 0);
  EXPECT_EQ(fb->explanation.find("no baseline"), std::string::npos) << fb->explanation;
}

TEST_F(EvaluatorStateTest, AChangedStormConfigRestartsStormsAndKeepsTheRest) {
  auto a = NewLife();
  auto b = NewLife();
  lives_ = {a.get(), b.get()};
  Part1();
  const RulesSnapshot before = a->evaluator->Snapshot();
  const Finding* storm = FindOpen(before, FindingKind::kStorm);
  const Finding* outage = FindOpen(before, FindingKind::kPowerOutage);
  ASSERT_NE(storm, nullptr);
  ASSERT_NE(outage, nullptr);

  RulesConfig changed = config_;
  changed.storm.factor = 4;
  b->evaluator = NewEvaluator(*b, changed);
  ASSERT_TRUE(Load(*b->evaluator, Save(*a->evaluator)).ok());
  const RulesSnapshot s = b->evaluator->Snapshot();
  // The storm closed at the last evaluation, saying why; its detector starts afresh.
  EXPECT_EQ(FindOpen(s, FindingKind::kStorm), nullptr);
  const Finding* closed = FindClosed(s, FindingKind::kStorm);
  ASSERT_NE(closed, nullptr);
  EXPECT_EQ(closed->id, storm->id);
  EXPECT_EQ(closed->end, before.evaluated_at);
  EXPECT_NE(closed->explanation.find("storm settings changed"), std::string::npos)
      << closed->explanation;
  // The rest is kept: the power cut (and, after part 2, its closing on the restored premises),
  // the comms incident, the DNO flood, the Go/No-Go history.
  const Finding* kept = FindOpen(s, FindingKind::kPowerOutage);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->id, outage->id);
  EXPECT_NE(FindOpen(s, FindingKind::kCommsIncident), nullptr);
  EXPECT_NE(FindOpen(s, FindingKind::kDnoFlood), nullptr);
  EXPECT_EQ(s.gonogo_history.size(), 1u);

  // A storm minute: B learns afresh (a new scope, warming up) while A goes on with its storm.
  StormMinute(kPart1End);
  Tick(kPart1End + 59'000);
  EXPECT_NE(FindOpen(a->evaluator->Snapshot(), FindingKind::kStorm), nullptr);
  EXPECT_EQ(FindOpen(b->evaluator->Snapshot(), FindingKind::kStorm), nullptr);

  // Changed outage settings: the outage part restarts (its findings close), storms are kept.
  RulesConfig outage_changed = config_;
  outage_changed.outage.min_premises = 30;
  auto b2 = NewEvaluator(*b, outage_changed);
  ASSERT_TRUE(Load(*b2, Save(*a->evaluator)).ok());
  const RulesSnapshot s2 = b2->Snapshot();
  EXPECT_NE(FindOpen(s2, FindingKind::kStorm), nullptr);
  EXPECT_EQ(FindOpen(s2, FindingKind::kPowerOutage), nullptr);
  EXPECT_EQ(FindOpen(s2, FindingKind::kCommsIncident), nullptr);
  ASSERT_NE(FindClosed(s2, FindingKind::kPowerOutage), nullptr);
  EXPECT_NE(FindClosed(s2, FindingKind::kPowerOutage)->explanation.find("outage settings changed"),
            std::string::npos);

  // A moved decision time keeps the history (the schedule re-arms).
  RulesConfig later = config_;
  later.gonogo.decision_hour = 7;
  auto b3 = NewEvaluator(*b, later);
  ASSERT_TRUE(Load(*b3, Save(*a->evaluator)).ok());
  EXPECT_EQ(b3->Snapshot().gonogo_history.size(), 1u);
  EXPECT_NE(FindOpen(b3->Snapshot(), FindingKind::kStorm), nullptr);
}

TEST_F(EvaluatorStateTest, TruncatedOrDamagedStateIsRefusedWithoutACrash) {
  auto a = NewLife();
  lives_ = {a.get()};
  Part1();
  const std::string state = Save(*a->evaluator);
  ASSERT_GT(state.size(), 1000u);

  // Another life to load into (and, when a damaged state still loads, to run a tick on).
  auto b = NewLife();
  const auto expect_fresh = [&](const Evaluator& ev) {
    const RulesSnapshot s = ev.Snapshot();
    EXPECT_TRUE(s.open_findings.empty());
    EXPECT_TRUE(s.closed_findings.empty());
    EXPECT_TRUE(s.gonogo_history.empty());
    EXPECT_EQ(ev.evaluations(), 0u);
  };

  // Every truncation is refused, and leaves the evaluator as created, even after a good load.
  ASSERT_TRUE(Load(*b->evaluator, state).ok());
  for (size_t len = 0; len < state.size(); ++len) {
    const absl::Status s = Load(*b->evaluator, std::string_view(state).substr(0, len));
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "length " << len << ": " << s;
    if (len % 997 == 0) expect_fresh(*b->evaluator);
  }
  expect_fresh(*b->evaluator);
  // Trailing bytes: the evaluator reads its state, the caller's Finish refuses the rest.
  EXPECT_EQ(Load(*b->evaluator, state + "x").code(), absl::StatusCode::kDataLoss);

  // Another format version.
  std::string other_version = state;
  other_version[0] = static_cast<char>(Evaluator::kStateVersion + 1);
  const absl::Status version = Load(*b->evaluator, other_version);
  EXPECT_EQ(version.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(version.message().find("version"), std::string::npos) << version;
  expect_fresh(*b->evaluator);

  // Every byte damaged in turn: refused or taken, never a crash; a damaged state that loads is
  // run (one evaluation in 16, for time). Taken states log their restarted parts: kept quiet.
  ::testing::internal::CaptureStderr();
  size_t loaded = 0;
  for (size_t i = 0; i < state.size(); ++i) {
    for (const uint8_t mask : {uint8_t{0xFF}, uint8_t{0x80}}) {
      std::string damaged = state;
      damaged[i] = static_cast<char>(static_cast<uint8_t>(damaged[i]) ^ mask);
      const absl::Status s = Load(*b->evaluator, damaged);
      if (s.ok()) {
        if (++loaded % 16 == 0) {
          for (size_t w = 0; w < b->engine->worker_count(); ++w) {
            b->engine->worker(w).PublishRuleInputs();
          }
          b->evaluator->Tick(EventTime{kPart1End}, /*force=*/true);
          b->evaluator->Tick(EventTime{kPart1End + kMsPerHour}, /*force=*/true);
        }
      } else {
        ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "byte " << i << ": " << s;
      }
    }
  }
  EXPECT_GT(loaded, 0u);  // strings and figures take any byte
  // Hostile counts in the place of each 8-byte word: refused or bounded, never a huge allocation.
  for (size_t i = 0; i + 8 <= state.size(); i += 8) {
    std::string damaged = state;
    for (size_t k = 0; k < 8; ++k) damaged[i + k] = static_cast<char>(k == 7 ? 0x7F : 0xFF);
    (void)Load(*b->evaluator, damaged);
  }
  (void)::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(Load(*b->evaluator, state).ok());
  EXPECT_TRUE(SameState(Save(*b->evaluator), state));
}

}  // namespace
}  // namespace smetsmon::rules
