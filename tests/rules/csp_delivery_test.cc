// The SEC's own delivery views: the CSP mapping's validation, delivery rows per Communication
// Service Provider (the sums of their regions), and the delivery latency histogram
// smetsmon_delivery_latency_seconds{priority,csp} (cumulative buckets, sum and count, monotonic
// while windows expire, kept across a checkpoint).
#include "rules/csp_delivery.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

std::string ReadConfigText() {
  std::string text;
  for (const std::string& line : testing::ReadLines(testing::ConfigDir() + "/rules.yaml")) {
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

// The shipped rules.yaml with its `csps:` block replaced by `csps` (YAML text, "" for none).
std::string WithCsps(const std::string& csps) {
  const std::string text = ReadConfigText();
  const size_t at = text.find("\ncsps:\n");
  EXPECT_NE(at, std::string::npos) << "the shipped rules.yaml has no csps block";
  size_t end = at + 1;
  // The block: "csps:" and its indented lines.
  end = text.find('\n', end) + 1;
  while (end < text.size() && text[end] == ' ') end = text.find('\n', end) + 1;
  return text.substr(0, at + 1) + csps + text.substr(end);
}

class CspDeliveryTest : public ::testing::Test {
 protected:
  CspDeliveryTest() : ref_(testing::LoadTestReference()), config_(testing::ShippedRules(ref_)) {}

  absl::StatusOr<RulesConfig> LoadText(const std::string& yaml) {
    const std::string path = testing::TempPath("rules.yaml");
    testing::WriteFile(path, yaml);
    return LoadRulesConfig(path, ref_);
  }
  std::string ErrorOf(const std::string& yaml) {
    auto r = LoadText(yaml);
    return r.ok() ? std::string("(loaded)") : std::string(r.status().message());
  }

  void Start(size_t workers = 2) {
    evaluator_.reset();  // before the engine it reads, before the setup the engine reads
    engine_.reset();
    setup_ = testing::RuleInputsFor(ref_, config_);
    engine_ = MakeEngine(workers);
    auto ev = Evaluator::Create(*engine_, config_);
    ASSERT_TRUE(ev.ok()) << ev.status();
    evaluator_ = *std::move(ev);
  }
  std::unique_ptr<aggregate::Engine> MakeEngine(size_t workers) {
    return testing::SmallEngine(ref_, workers, &setup_);
  }

  // An alert delivered `latency_ms` after it was raised; gsp nullptr: no area (region unknown).
  AlertEvent Delivered(uint64_t device, const char* code, int64_t t, int64_t latency_ms,
                       const char* gsp) {
    AlertEvent e;
    e.device = DeviceId{device};
    e.alert_fingerprint = ++next_id_ * 0x9E3779B97F4A7C15ULL;
    e.event_time = EventTime{t};
    e.code = *ParseAlertCode(code);
    e.generation = Generation::kSmets2;
    e.present = AlertEvent::kHasSmets | AlertEvent::kHasDccTime;
    e.dcc_time = EventTime{t + latency_ms};
    if (gsp != nullptr) {
      e.area = ref_.areas->ByGspGroup(gsp[1]);
      e.present |= AlertEvent::kHasArea;
    }
    return e;
  }
  void Tick(int64_t t) {
    for (size_t w = 0; w < engine_->worker_count(); ++w) engine_->worker(w).PublishRuleInputs();
    evaluator_->Tick(EventTime{t}, /*force=*/true);
  }

  // What the test expects, derived from the events it applied.
  std::string PriorityOf(const AlertEvent& e) const {
    return config_.classes[config_.class_of_slot[ref_.catalogue->SlotOf(e.code)]].name;
  }
  int64_t TargetOf(const std::string& priority) const {
    for (const PriorityClass& c : config_.classes) {
      if (c.name == priority) return c.target_ms;
    }
    ADD_FAILURE() << priority;
    return 0;
  }
  std::string RegionOf(const AlertEvent& e) const {
    const RegionId r = ref_.areas->RegionOf(e.area);
    return r == kUnknownRegion ? "unknown" : ref_.areas->regions()[r.value];
  }
  std::string CspOf(const AlertEvent& e) const {
    const std::string region = RegionOf(e);
    for (const CspConfig& c : config_.csps) {
      if (std::find(c.regions.begin(), c.regions.end(), region) != c.regions.end()) return c.name;
    }
    return "unknown";
  }
  size_t BucketOf(int64_t latency_ms) const {
    size_t b = 0;
    while (b < config_.latency_bounds_ms.size() && latency_ms > config_.latency_bounds_ms[b]) ++b;
    return b;
  }
  struct Expected {
    std::vector<uint64_t> counts;
    uint64_t sum_ms = 0;
    uint64_t delivered = 0, within = 0;
  };
  // By (priority, csp).
  std::map<std::pair<std::string, std::string>, Expected> Expect(
      const std::vector<AlertEvent>& events) const {
    std::map<std::pair<std::string, std::string>, Expected> out;
    for (const AlertEvent& e : events) {
      Expected& x = out[{PriorityOf(e), CspOf(e)}];
      x.counts.resize(config_.latency_bounds_ms.size() + 1, 0);
      const int64_t latency = e.dcc_time.ms - e.event_time.ms;
      ++x.counts[BucketOf(latency)];
      x.sum_ms += static_cast<uint64_t>(std::max<int64_t>(latency, 0));
      ++x.delivered;
      x.within += latency <= TargetOf(PriorityOf(e)) ? 1 : 0;
    }
    return out;
  }
  void Apply(const std::vector<AlertEvent>& events) {
    for (const AlertEvent& e : events) engine_->WorkerFor(e.device).Apply(e);
  }
  std::map<std::pair<std::string, std::string>, LatencyHistogram> Histograms() const {
    std::map<std::pair<std::string, std::string>, LatencyHistogram> out;
    for (LatencyHistogram& h : DeliveryLatencyByCsp(*engine_)) {
      out[{h.priority, h.csp}] = std::move(h);
    }
    return out;
  }
  void ExpectHistogramsMatch(const std::vector<AlertEvent>& events) {
    const auto expected = Expect(events);
    const auto got = Histograms();
    // Every class x (each CSP, then unknown), zeros included.
    EXPECT_EQ(got.size(), config_.classes.size() * (config_.csps.size() + 1));
    for (const auto& [key, h] : got) {
      const auto it = expected.find(key);
      if (it == expected.end()) {
        EXPECT_EQ(h.count(), 0u) << key.first << " " << key.second;
        EXPECT_EQ(h.sum_ms, 0u) << key.first << " " << key.second;
        continue;
      }
      EXPECT_EQ(h.counts, it->second.counts) << key.first << " " << key.second;
      EXPECT_EQ(h.sum_ms, it->second.sum_ms) << key.first << " " << key.second;
      EXPECT_EQ(h.count(), it->second.delivered) << key.first << " " << key.second;
    }
    for (const auto& [key, x] : expected) {
      EXPECT_EQ(got.count(key), 1u) << key.first << " " << key.second;
    }
  }

  // A mixed day: alerts of several classes in areas of every region, and some without an area.
  std::vector<AlertEvent> Scenario(int64_t from, int n, uint64_t first_device) {
    const char* gsps[] = {"_F", "_A", "_C", "_P", "_K", "_J", nullptr};  // N, C, S, N, C, S, ?
    const char* codes[] = {"8F35", "8F40", "8002", "AD1", "8F72"};
    const int64_t latencies[] = {0,      800,     4'000,     20'000,          45'000,
                                 90'000, 400'000, 7'200'000, 60 * kMsPerHour, -3'000};
    std::vector<AlertEvent> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(Delivered(first_device + static_cast<uint64_t>(i % 97), codes[i % 5],
                              from + i * 7'000, latencies[(i * 7) % 10], gsps[i % 7]));
    }
    return out;
  }

  catalog::ReferenceData ref_;
  RulesConfig config_;
  aggregate::RuleInputsSetup setup_;
  std::unique_ptr<aggregate::Engine> engine_;
  std::unique_ptr<Evaluator> evaluator_;
  uint64_t next_id_ = 0;
};

TEST_F(CspDeliveryTest, ShippedMappingIsThePmrsAndRegionsMapToTheirCsp) {
  ASSERT_EQ(config_.csps.size(), 2u);
  EXPECT_EQ(config_.csps[0].name, "CSP North");
  EXPECT_EQ(config_.csps[0].regions, std::vector<std::string>{"north"});
  EXPECT_EQ(config_.csps[1].name, "CSP Central & South");
  EXPECT_EQ(config_.csps[1].regions, (std::vector<std::string>{"central", "south"}));
  const aggregate::FleetLayout layout(*ref_.areas, *ref_.catalogue, *ref_.dmcs, *ref_.cohorts);
  const aggregate::RuleInputsSetup s = BuildRuleInputsSetup(config_, layout, 0);
  ASSERT_EQ(s.csp_of_region_slot.size(), s.region_slots);
  for (size_t r = 0; r < ref_.areas->regions().size(); ++r) {
    const std::string& region = ref_.areas->regions()[r];
    const int8_t want = region == "north" ? 0 : (region == "central" || region == "south") ? 1 : -1;
    EXPECT_EQ(s.csp_of_region_slot[r], want) << region;
  }
  EXPECT_EQ(s.csp_of_region_slot.back(), -1);  // the unknown region has no CSP
}

TEST_F(CspDeliveryTest, MappingMistakesNameTheFileAndField) {
  const std::string dup_name = ErrorOf(
      WithCsps("csps:\n  - {name: A, regions: [north]}\n  - {name: A, regions: [central]}\n"));
  EXPECT_NE(dup_name.find("rules.yaml"), std::string::npos) << dup_name;
  EXPECT_NE(dup_name.find("csps.name"), std::string::npos) << dup_name;
  EXPECT_NE(dup_name.find("duplicate"), std::string::npos) << dup_name;

  const std::string twice = ErrorOf(WithCsps(
      "csps:\n  - {name: A, regions: [north, central]}\n  - {name: B, regions: [central]}\n"));
  EXPECT_NE(twice.find("rules.yaml"), std::string::npos) << twice;
  EXPECT_NE(twice.find("csps.regions"), std::string::npos) << twice;
  EXPECT_NE(twice.find("already in CSP 'A'"), std::string::npos) << twice;

  const std::string unknown = ErrorOf(WithCsps("csps:\n  - {name: A, regions: [north, wales]}\n"));
  EXPECT_NE(unknown.find("rules.yaml"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("csps.regions"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("unknown comms region 'wales'"), std::string::npos) << unknown;

  const std::string empty = ErrorOf(WithCsps("csps:\n  - {name: A, regions: []}\n"));
  EXPECT_NE(empty.find("csps.regions"), std::string::npos) << empty;

  // A region no CSP serves is allowed; no csps at all is too.
  auto partial = LoadText(WithCsps("csps:\n  - {name: CSP North, regions: [north]}\n"));
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->csps.size(), 1u);
  auto none = LoadText(WithCsps(""));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->csps.empty());
}

TEST_F(CspDeliveryTest, ChangingTheMappingNeedsARestart) {
  Start();
  auto next = LoadText(WithCsps("csps:\n  - {name: CSP North, regions: [north, central]}\n"));
  ASSERT_TRUE(next.ok()) << next.status();
  const absl::Status s = evaluator_->Reload(*next);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("csps"), std::string::npos) << s;
  EXPECT_TRUE(evaluator_->Reload(config_).ok());  // the same mapping reloads
}

TEST_F(CspDeliveryTest, CspRowsAreTheSumsOfTheirRegionsJudgedAgainstTheClassLevels) {
  Start();
  const std::vector<AlertEvent> events = Scenario(kT0, 700, 5000);
  Apply(events);
  const int64_t now = kT0 + 700 * 7'000 + kMsPerMinute;
  Tick(now);
  const RulesSnapshot snap = evaluator_->Snapshot();
  const auto expected = Expect(events);

  // Every window x class x CSP.
  EXPECT_EQ(snap.delivery_csp.size(), 3 * config_.classes.size() * config_.csps.size());
  size_t checked = 0;
  for (const CspDeliveryRow& c : snap.delivery_csp) {
    const DeliveryRow& d = c.delivery;
    // The rows of its regions in the same evaluation add up to it.
    uint64_t delivered = 0, within = 0;
    std::vector<uint64_t> buckets(config_.latency_bounds_ms.size() + 1, 0);
    for (const DeliveryRow& r : snap.delivery) {
      if (r.window != d.window || r.priority != d.priority) continue;
      if (std::find(c.regions.begin(), c.regions.end(), r.region) == c.regions.end()) continue;
      delivered += r.delivered;
      within += r.within_target;
      for (size_t b = 0; b < buckets.size(); ++b) buckets[b] += r.latency_buckets[b];
    }
    EXPECT_EQ(d.delivered, delivered) << c.csp << " " << d.priority << " " << d.window;
    EXPECT_EQ(d.within_target, within) << c.csp << " " << d.priority << " " << d.window;
    EXPECT_EQ(d.latency_buckets, buckets) << c.csp << " " << d.priority << " " << d.window;
    // And the scenario's own tally (every event is within 1 h, 24 h and the month here).
    const auto it = expected.find({d.priority, c.csp});
    const uint64_t want = it == expected.end() ? 0 : it->second.delivered;
    const uint64_t want_within = it == expected.end() ? 0 : it->second.within;
    if (d.window != "1h") {
      EXPECT_EQ(d.delivered, want) << c.csp << " " << d.priority << " " << d.window;
      EXPECT_EQ(d.within_target, want_within) << c.csp << " " << d.priority;
      if (want > 0) {
        EXPECT_EQ(d.latency_buckets, it->second.counts) << c.csp << " " << d.priority;
        ++checked;
      }
    }
    // Share and RAG as a region's: against the class's service levels.
    const PriorityClass& cls =
        *std::find_if(config_.classes.begin(), config_.classes.end(),
                      [&](const PriorityClass& p) { return p.name == d.priority; });
    EXPECT_EQ(d.target_service_level, cls.target_service_level);
    EXPECT_EQ(d.minimum_service_level, cls.minimum_service_level);
    if (d.delivered > 0) {
      const double share = static_cast<double>(d.within_target) / static_cast<double>(d.delivered);
      EXPECT_DOUBLE_EQ(d.share, share);
      if (d.delivered >= 20) {
        const Rag rag = share >= cls.target_service_level    ? Rag::kGreen
                        : share >= cls.minimum_service_level ? Rag::kAmber
                                                             : Rag::kRed;
        EXPECT_EQ(d.rag, rag) << c.csp << " " << d.priority << " " << d.window;
      }
    }
  }
  EXPECT_GE(checked, 4u);  // the scenario reaches both CSPs in at least two classes and windows

  // The API's and the report's rendering carries them next to the regions.
  JsonWriter w;
  report::WriteDelivery(w, snap.delivery, snap.delivery_csp, config_.latency_bounds_ms);
  const std::string json = w.str();
  EXPECT_NE(json.find(R"("csp":"CSP Central & South","regions":["central","south"])"),
            std::string::npos)
      << json.substr(0, 600);
  EXPECT_NE(json.find(R"("region":"north")"), std::string::npos);
}

TEST_F(CspDeliveryTest, AGoNoGoCriterionCanHoldACspToItsServiceLevel) {
  CriterionConfig c;
  c.id = "critical_delivery_csp_cs";
  c.metric = "delivery_within_target_24h.critical.csp=CSP Central & South";
  c.amber = 0.95;
  c.red = 0.90;
  c.lower_is_worse = true;
  config_.gonogo.criteria.push_back(c);
  Start();
  const std::vector<AlertEvent> events = Scenario(kT0, 700, 5000);
  Apply(events);
  Tick(kT0 + 700 * 7'000 + kMsPerMinute);
  const RulesSnapshot snap = evaluator_->Snapshot();
  const auto expected = Expect(events);
  const auto it = expected.find({"critical", "CSP Central & South"});
  ASSERT_NE(it, expected.end());
  const CriterionResult* got = nullptr;
  for (const CriterionResult& r : snap.gonogo.criteria) {
    if (r.id == c.id) got = &r;
  }
  ASSERT_NE(got, nullptr);
  ASSERT_TRUE(got->available) << got->detail;
  const double share =
      static_cast<double>(it->second.within) / static_cast<double>(it->second.delivered);
  EXPECT_DOUBLE_EQ(got->value, share);
  EXPECT_EQ(got->rag, share <= 0.90 ? Rag::kRed : share <= 0.95 ? Rag::kAmber : Rag::kGreen);
}

TEST_F(CspDeliveryTest, HistogramCountsEveryDeliveredAlertByPriorityAndCsp) {
  Start();
  const std::vector<AlertEvent> events = Scenario(kT0, 500, 9000);
  Apply(events);
  ExpectHistogramsMatch(events);

  // The Prometheus family: cumulative buckets with the configured bounds in seconds, +Inf last,
  // _count = +Inf bucket, _sum in seconds.
  Tick(kT0 + 500 * 7'000 + kMsPerMinute);
  const metrics::RulesMetrics probe(*evaluator_);
  const auto expected = Expect(events);
  bool found = false;
  for (const prometheus::MetricFamily& f : probe.Collect()) {
    if (f.name != "smetsmon_delivery_latency_seconds") continue;
    found = true;
    EXPECT_EQ(f.type, prometheus::MetricType::Histogram);
    EXPECT_EQ(f.metric.size(), config_.classes.size() * (config_.csps.size() + 1));
    for (const prometheus::ClientMetric& m : f.metric) {
      ASSERT_EQ(m.label.size(), 2u);
      EXPECT_EQ(m.label[0].name, "priority");
      EXPECT_EQ(m.label[1].name, "csp");
      const auto it = expected.find({m.label[0].value, m.label[1].value});
      const auto& h = m.histogram;
      ASSERT_EQ(h.bucket.size(), config_.latency_bounds_ms.size() + 1);
      uint64_t cumulative = 0;
      for (size_t b = 0; b < h.bucket.size(); ++b) {
        cumulative += it == expected.end() ? 0 : it->second.counts[b];
        EXPECT_EQ(h.bucket[b].cumulative_count, cumulative);
        if (b < config_.latency_bounds_ms.size()) {
          EXPECT_DOUBLE_EQ(h.bucket[b].upper_bound, config_.latency_bounds_ms[b] / 1000.0);
        } else {
          EXPECT_TRUE(std::isinf(h.bucket[b].upper_bound));
        }
      }
      EXPECT_EQ(h.sample_count, cumulative);
      EXPECT_DOUBLE_EQ(h.sample_sum,
                       it == expected.end() ? 0.0 : static_cast<double>(it->second.sum_ms) / 1000);
    }
  }
  EXPECT_TRUE(found);
}

// The dashboards draw each class's target and minimum service level from these gauges, so they
// must be the configured values, and the levels must follow a reload.
TEST_F(CspDeliveryTest, TheClassesTargetsAndServiceLevelsAreExportedAndFollowAReload) {
  Start();
  const auto levels = [&] {
    Tick(kT0 + kMsPerMinute);
    std::map<std::string, double> got;  // "priority/level" or "priority/target_seconds"
    for (const prometheus::MetricFamily& f : metrics::RulesMetrics(*evaluator_).Collect()) {
      for (const prometheus::ClientMetric& m : f.metric) {
        if (f.name == "smetsmon_delivery_target_seconds") {
          EXPECT_EQ(m.label.size(), 1u);
          got[m.label[0].value + "/target_seconds"] = m.gauge.value;
        } else if (f.name == "smetsmon_delivery_service_level_ratio") {
          EXPECT_EQ(m.label.size(), 2u);
          got[m.label[0].value + "/" + m.label[1].value] = m.gauge.value;
        }
      }
    }
    return got;
  };
  std::map<std::string, double> expected;
  for (const PriorityClass& c : config_.classes) {
    expected[c.name + "/target_seconds"] = static_cast<double>(c.target_ms) / 1000.0;
    expected[c.name + "/target"] = c.target_service_level;
    expected[c.name + "/minimum"] = c.minimum_service_level;
  }
  EXPECT_EQ(levels(), expected);
  EXPECT_EQ(expected.at("critical/target_seconds"), 30.0);  // the shipped rules.yaml

  // Service levels reload; the next evaluation exports the new ones.
  std::string text = ReadConfigText();
  const std::string critical =
      "{name: critical, target: 30s, target_service_level: 0.95, minimum_service_level: 0.90}";
  const size_t at = text.find(critical);
  ASSERT_NE(at, std::string::npos) << "the shipped critical class changed";
  text.replace(at, critical.size(),
               "{name: critical, target: 30s, target_service_level: 0.97, "
               "minimum_service_level: 0.93}");
  auto next = LoadText(text);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(evaluator_->Reload(*next).ok());
  expected["critical/target"] = 0.97;
  expected["critical/minimum"] = 0.93;
  EXPECT_EQ(levels(), expected);
}

TEST_F(CspDeliveryTest, ARegionNoCspServesCountsAsUnknown) {
  auto partial = LoadText(WithCsps("csps:\n  - {name: CSP North, regions: [north]}\n"));
  ASSERT_TRUE(partial.ok()) << partial.status();
  config_ = *std::move(partial);
  Start();
  const std::vector<AlertEvent> events = Scenario(kT0, 140, 100);
  Apply(events);
  ExpectHistogramsMatch(events);  // central and south (and no area) under csp="unknown"
  size_t unknown = 0;
  for (const auto& [key, h] : Histograms()) unknown += key.second == "unknown" ? h.count() : 0;
  size_t not_north = 0;
  for (const AlertEvent& e : events) not_north += RegionOf(e) != "north" ? 1 : 0;
  EXPECT_EQ(unknown, not_north);
  EXPECT_GT(not_north, 0u);
}

TEST_F(CspDeliveryTest, HistogramNeverGoesDownWhileTheWindowsExpire) {
  Start();
  std::vector<AlertEvent> events = Scenario(kT0, 300, 200);
  Apply(events);
  const auto before = Histograms();
  // Two days later the 1 h and 24 h windows are empty; the histogram is not.
  const int64_t later = kT0 + 2 * kMsPerDay;
  for (size_t w = 0; w < engine_->worker_count(); ++w) {
    engine_->worker(w).AdvanceTo(EventTime{later});
  }
  Tick(later);
  for (const DeliveryRow& r : evaluator_->Snapshot().delivery) {
    if (r.window != "month") {
      EXPECT_EQ(r.delivered, 0u) << r.window << " " << r.region;
    }
  }
  EXPECT_EQ(Histograms().size(), before.size());
  for (const auto& [key, h] : Histograms()) {
    EXPECT_EQ(h.counts, before.at(key).counts) << key.first << " " << key.second;
    EXPECT_EQ(h.sum_ms, before.at(key).sum_ms);
  }
  // New alerts add to it; an alert too late for every window still counts once delivered.
  const std::vector<AlertEvent> more = Scenario(later, 200, 300);
  Apply(more);
  std::vector<AlertEvent> stale = {Delivered(77, "8F35", later - 3 * kMsPerDay, 1'500, "_A")};
  Apply(stale);
  events.insert(events.end(), more.begin(), more.end());
  events.insert(events.end(), stale.begin(), stale.end());
  ExpectHistogramsMatch(events);
  for (const auto& [key, h] : Histograms()) {
    for (size_t b = 0; b < h.counts.size(); ++b) EXPECT_GE(h.counts[b], before.at(key).counts[b]);
    EXPECT_GE(h.sum_ms, before.at(key).sum_ms);
  }
}

TEST_F(CspDeliveryTest, HistogramSurvivesACheckpointAndReappliedEventsCountOnce) {
  Start();
  const std::vector<AlertEvent> first = Scenario(kT0, 400, 400);
  Apply(first);
  BinaryWriter w = BinaryWriter::ToMemory();
  engine_->SaveState(w);
  ASSERT_TRUE(w.ok());
  const std::string bytes = w.TakeBytes();
  // The daemon goes on after the checkpoint, then dies; the next one restores the checkpoint
  // and is given again what came after it (the source resumes at the checkpoint's offsets).
  const std::vector<AlertEvent> after = Scenario(kT0 + kMsPerHour, 150, 900);
  Apply(after);

  evaluator_.reset();
  engine_ = MakeEngine(2);
  BinaryReader r = BinaryReader::FromMemory(bytes);
  const absl::Status loaded = engine_->LoadState(r, aggregate::Engine::kStateVersion, "memory");
  ASSERT_TRUE(loaded.ok()) << loaded;
  ExpectHistogramsMatch(first);  // what the checkpoint held, not zero
  Apply(after);
  std::vector<AlertEvent> all = first;
  all.insert(all.end(), after.begin(), after.end());
  ExpectHistogramsMatch(all);  // each event once, as a daemon that never stopped has it

  // Taken under other classes (same number, one renamed) or other latency buckets, the
  // counters would count in the wrong series: they start at zero.
  const RulesConfig shipped = config_;
  config_.classes[1].name = "urgent";
  Start();
  BinaryReader r2 = BinaryReader::FromMemory(bytes);
  const absl::Status renamed = engine_->LoadState(r2, aggregate::Engine::kStateVersion, "memory");
  ASSERT_TRUE(renamed.ok()) << renamed;
  ExpectHistogramsMatch({});
  config_ = shipped;
  config_.latency_bounds_ms = {1'000, 60'000};
  Start();
  BinaryReader r3 = BinaryReader::FromMemory(bytes);
  const absl::Status other = engine_->LoadState(r3, aggregate::Engine::kStateVersion, "memory");
  ASSERT_TRUE(other.ok()) << other;
  ExpectHistogramsMatch({});
}

TEST_F(CspDeliveryTest, ATruncatedCheckpointIsDataLossNotACrash) {
  Start();
  Apply(Scenario(kT0, 200, 400));
  BinaryWriter w = BinaryWriter::ToMemory();
  engine_->SaveState(w);
  const std::string bytes = w.TakeBytes();
  for (size_t cut : {bytes.size() / 3, bytes.size() / 2, bytes.size() * 9 / 10, bytes.size() - 1}) {
    Start();
    BinaryReader r = BinaryReader::FromMemory(std::string_view(bytes).substr(0, cut));
    const absl::Status s = engine_->LoadState(r, aggregate::Engine::kStateVersion, "memory");
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << cut << " " << s;
  }
}

TEST_F(CspDeliveryTest, LatencyTotalsOfAnotherShapeAreNotImported) {
  Start();
  aggregate::RuleInputs* in = engine_->worker(0).rule_inputs();
  ASSERT_NE(in, nullptr);
  std::vector<uint64_t> cells = in->ExportLatencyTotals();
  ASSERT_EQ(cells.size(), setup_.latency_total_cells());
  cells[0] = 5;
  EXPECT_TRUE(in->ImportLatencyTotals(cells));
  cells.pop_back();
  EXPECT_FALSE(in->ImportLatencyTotals(cells));  // wrong size: left as it was
  EXPECT_EQ(in->ExportLatencyTotals()[0], 5u);
}

}  // namespace
}  // namespace smetsmon::rules
