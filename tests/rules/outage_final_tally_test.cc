// A power cut's final tally through the whole rules path: AD1 and 8F35/8F36 events applied to the
// engine, the evaluator ticking on event time, and what the API and the replay report write
// (report::WriteFindings) and what Prometheus scrapes (RulesMetrics): the figures at close, the
// restorations counted after it, the final figures once the tally window ends; an evaluator
// restored mid-tally goes on as one that never stopped; a rules reload that restarts outage
// detection ends the tally, one that only changes the tally window does not.
#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/binary_file.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "metrics/rules_metrics.h"
#include "report/rules_json.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"
#include "testing/rules_engine.h"

namespace smetsmon::rules {
namespace {

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z
constexpr int64_t kMin = kMsPerMinute;
constexpr int64_t kHour = kMsPerHour;
constexpr uint64_t kMpan = 1612345678900ULL;  // North West premises kMpan + i
// 38 of 40 restored at kRestoredAt: the outage closes then (95 %).
constexpr int64_t kRestoredAt = kT0 + 20 * kMin;

std::string FindingsJson(const RulesSnapshot& s) {
  JsonWriter w;
  report::WriteFindings(w, s);
  return w.str();
}

// The value of `family`'s series with exactly `labels`, or -1 when there is none.
double MetricValue(const std::vector<prometheus::MetricFamily>& families, const std::string& family,
                   const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have == labels)
        return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

class OutageFinalTallyTest : public ::testing::Test {
 protected:
  struct Life {
    std::unique_ptr<aggregate::Engine> engine;
    std::unique_ptr<Evaluator> evaluator;
  };

  OutageFinalTallyTest()
      : ref_(testing::LoadTestReference()),
        config_(testing::ShippedRules(ref_)),
        setup_(testing::RuleInputsFor(ref_, config_)) {}

  std::unique_ptr<Life> NewLife() {
    auto life = std::make_unique<Life>();
    life->engine = testing::SmallEngine(ref_, 2, &setup_);
    life->evaluator = NewEvaluator(*life);
    return life;
  }
  std::unique_ptr<Evaluator> NewEvaluator(Life& life) {
    auto ev = Evaluator::Create(*life.engine, config_);
    EXPECT_TRUE(ev.ok()) << ev.status();
    return ev.ok() ? *std::move(ev) : nullptr;
  }

  // An outage alert of premises i (from its hub, id 6000 + i) or a restoration (from its meter,
  // id 7000 + i), in North West, to every life.
  void Premises(int i, const char* code, int64_t t) {
    AlertEvent e;
    e.device = DeviceId{static_cast<uint64_t>((code[0] == 'A' ? 6000 : 7000) + i)};
    e.alert_fingerprint = ++next_id_ * 0x9E3779B97F4A7C15ULL;
    e.event_time = EventTime{t};
    e.code = *ParseAlertCode(code);
    e.generation = Generation::kSmets2;
    e.present = AlertEvent::kHasSmets | AlertEvent::kHasArea;
    e.area = ref_.areas->ByGspGroup('G');
    e.mpxn = kMpan + static_cast<uint64_t>(i);
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
  // 40 North West hubs lose supply from kT0; 38 meters report 8F36 at kRestoredAt.
  void CutAndClose() {
    for (int i = 0; i < 40; ++i) Premises(i, "AD1", kT0 + i * 2000);
    Tick(kT0 + 3 * kMin);
    for (int i = 0; i < 38; ++i) Premises(i, "8F36", kRestoredAt);
    Tick(kRestoredAt + 5 * kMin);
  }

  static const Finding* Outage(const RulesSnapshot& s) {
    for (const Finding& f : s.closed_findings) {
      if (f.kind == FindingKind::kPowerOutage) return &f;
    }
    return nullptr;
  }

  catalog::ReferenceData ref_;
  RulesConfig config_;
  aggregate::RuleInputsSetup setup_;
  std::vector<Life*> lives_;
  uint64_t next_id_ = 0;
};

TEST_F(OutageFinalTallyTest, FiguresAtCloseThenFinalInTheFindingTheApiJsonAndTheMetrics) {
  auto life = NewLife();
  lives_ = {life.get()};
  const Evaluator& ev = *life->evaluator;
  const metrics::RulesMetrics probe(ev);
  const std::map<std::string, std::string> nw = {{"area", "North West"}};
  const auto premises = [&](const char* count) {
    return MetricValue(probe.Collect(), "smetsmon_power_outage_premises",
                       {{"area", "North West"}, {"count", count}});
  };
  const auto final_flag = [&] {
    return MetricValue(probe.Collect(), "smetsmon_power_outage_figures_final", nw);
  };
  CutAndClose();

  RulesSnapshot s = ev.Snapshot();
  const Finding* f = Outage(s);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->end->ms, kRestoredAt);
  const int64_t tally_until = kRestoredAt + 24 * kHour;  // outages.final_tally_after: 24h
  EXPECT_EQ(f->tally, Tally::kCounting);
  EXPECT_EQ(f->figures.at("restored_premises"), 38);
  std::string json = FindingsJson(s);
  EXPECT_NE(json.find("\"open\":false,\"final\":false,\"tally\":\"counting\",\"tally_until_ms\":" +
                      std::to_string(tally_until)),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"restored_premises\":38"), std::string::npos) << json;
  EXPECT_NE(json.find("\"restored_premises_at_close\":38"), std::string::npos) << json;
  EXPECT_EQ(premises("affected"), 40);
  EXPECT_EQ(premises("restored"), 38);
  EXPECT_EQ(premises("restored_at_close"), 38);
  EXPECT_EQ(premises("restored_after_close"), 0);
  EXPECT_EQ(premises("unrestored"), 2);
  EXPECT_EQ(final_flag(), 0);

  // Premises 38 comes back 5 hours later.
  Premises(38, "8F35", kT0 + 5 * kHour);
  Tick(kT0 + 6 * kHour);
  s = ev.Snapshot();
  f = Outage(s);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kCounting);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  EXPECT_EQ(f->figures.at("restored_after_close"), 1);
  json = FindingsJson(s);
  EXPECT_NE(json.find("\"restored_after_close\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"restored_premises\":39"), std::string::npos) << json;
  EXPECT_NE(json.find("\"final\":false"), std::string::npos) << json;
  EXPECT_EQ(premises("restored"), 39);
  EXPECT_EQ(premises("restored_at_close"), 38);
  EXPECT_EQ(premises("restored_after_close"), 1);
  EXPECT_EQ(final_flag(), 0);

  // The tally window ends: the figures are final (premises 39, restored after it, not counted).
  Premises(39, "8F35", tally_until + 10'000);
  Tick(tally_until + kMin);
  s = ev.Snapshot();
  f = Outage(s);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kFinal);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  json = FindingsJson(s);
  EXPECT_NE(json.find("\"open\":false,\"final\":true,\"tally\":\"final\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("final tally: 39 of 40 restored"), std::string::npos) << json;
  EXPECT_EQ(premises("restored"), 39);
  EXPECT_EQ(premises("unrestored"), 1);
  EXPECT_EQ(final_flag(), 1);
}

TEST_F(OutageFinalTallyTest, AnEvaluatorRestoredMidTallyGoesOnAsOneThatNeverStopped) {
  auto a = NewLife();
  auto b = NewLife();
  lives_ = {a.get(), b.get()};
  CutAndClose();
  Premises(38, "8F35", kT0 + 2 * kHour);
  Tick(kT0 + 3 * kHour);
  BinaryWriter w = BinaryWriter::ToMemory();
  a->evaluator->SaveState(w);
  ASSERT_TRUE(w.ok());
  const std::string state = w.TakeBytes();
  b->evaluator = NewEvaluator(*b);
  BinaryReader r = BinaryReader::FromMemory(state);
  ASSERT_TRUE(b->evaluator->LoadState(r).ok());
  ASSERT_TRUE(r.Finish().ok());
  EXPECT_EQ(Outage(b->evaluator->Snapshot())->tally, Tally::kCounting);

  Premises(39, "8F35", kT0 + 10 * kHour);
  Tick(kT0 + 11 * kHour);
  EXPECT_EQ(Outage(b->evaluator->Snapshot())->figures.at("restored_after_close"), 2);
  Tick(kRestoredAt + 25 * kHour);
  const RulesSnapshot sa = a->evaluator->Snapshot();
  const RulesSnapshot sb = b->evaluator->Snapshot();
  ASSERT_NE(Outage(sb), nullptr);
  EXPECT_EQ(Outage(sb)->tally, Tally::kFinal);
  EXPECT_EQ(Outage(sb)->figures.at("restored_premises"), 40);
  EXPECT_EQ(FindingsJson(sb), FindingsJson(sa));
}

TEST_F(OutageFinalTallyTest, AReloadRestartingOutageDetectionEndsTheTally) {
  auto life = NewLife();
  lives_ = {life.get()};
  CutAndClose();
  // Only the tally window changes: the tally goes on (its end was fixed when it closed).
  RulesConfig longer = config_;
  longer.outage.final_tally_after_ms = 48 * kHour;
  ASSERT_TRUE(life->evaluator->Reload(longer).ok());
  Premises(38, "8F35", kT0 + 2 * kHour);
  Tick(kT0 + 3 * kHour);
  const RulesSnapshot counting = life->evaluator->Snapshot();
  const Finding* f = Outage(counting);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kCounting);
  EXPECT_EQ(f->figures.at("restored_after_close"), 1);
  EXPECT_EQ(f->tally_until->ms, kRestoredAt + 24 * kHour);

  // A detection setting changes: the tracker starts afresh, so nothing can count any more.
  RulesConfig other = longer;
  other.outage.min_premises = 30;
  ASSERT_TRUE(life->evaluator->Reload(other).ok());
  Premises(39, "8F35", kT0 + 4 * kHour);
  Tick(kT0 + 5 * kHour);
  const RulesSnapshot s = life->evaluator->Snapshot();
  f = Outage(s);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tally, Tally::kFinal);
  EXPECT_EQ(f->figures.at("restored_premises"), 39);
  EXPECT_NE(f->explanation.find("tally ended by a rules reload"), std::string::npos)
      << f->explanation;
}

TEST_F(OutageFinalTallyTest, TheTallyWindowIsReadFromRulesYaml) {
  EXPECT_EQ(config_.outage.final_tally_after_ms, 24 * kHour);  // the shipped file
  const auto load = [&](const std::string& outages) {
    const std::string path = testing::TempPath("final-tally-rules.yaml");
    testing::WriteFile(
        path, "priorities:\n  - {name: urgent, target: 10s}\noutages: {" + outages + "}\n");
    return LoadRulesConfig(path, ref_);
  };
  auto two_hours = load("final_tally_after: 2h");
  ASSERT_TRUE(two_hours.ok()) << two_hours.status();
  EXPECT_EQ(two_hours->outage.final_tally_after_ms, 2 * kHour);
  auto none = load("final_tally_after: 0");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->outage.final_tally_after_ms, 0);
  auto absent = load("window: 5m");
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_EQ(absent->outage.final_tally_after_ms, 24 * kHour);  // the default
  EXPECT_FALSE(load("final_tally_after: 31d").ok());
  EXPECT_FALSE(load("final_tally_after: soon").ok());
}

}  // namespace
}  // namespace smetsmon::rules
