#include "rules/gonogo.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "report/gonogo_report.h"
#include "rules/state_io.h"
#include "testing/london.h"

namespace smetsmon::rules {
namespace {

using report::GoNoGoToJson;
using report::GoNoGoToText;
using report::WriteGoNoGoHistory;
using testing::London;
using testing::Utc;

// A unique directory for this test (removed first, so reruns start clean).
std::string TempDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = ::testing::TempDir() + "smetsmon_gonogo_" + info->test_suite_name() + "_" +
                    info->name() + "_" + std::to_string(::getpid()) + "_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CriterionConfig Higher(const std::string& id, double amber, double red) {
  CriterionConfig c;
  c.id = id;
  c.metric = id;
  c.amber = amber;
  c.red = red;
  return c;
}

CriterionConfig Lower(const std::string& id, double amber, double red) {
  CriterionConfig c = Higher(id, amber, red);
  c.lower_is_worse = true;
  return c;
}

MetricValue Val(double v, std::string detail = "") {
  return MetricValue{v, true, std::move(detail)};
}

// Three criteria and values that make them green, amber and red as asked.
GoNoGoInputs InputsWithRags(const std::vector<Rag>& rags) {
  GoNoGoInputs in;
  for (size_t i = 0; i < rags.size(); ++i) {
    const double v = rags[i] == Rag::kGreen ? 1 : rags[i] == Rag::kAmber ? 5 : 10;
    in.metrics[absl::StrCat("m", i)] = Val(v);
  }
  return in;
}
GoNoGoConfig ConfigFor(size_t n, GoNoGoConfig::Overall overall) {
  GoNoGoConfig cfg;
  cfg.overall = overall;
  for (size_t i = 0; i < n; ++i) cfg.criteria.push_back(Higher(absl::StrCat("m", i), 5, 10));
  return cfg;
}

// ---- RAG thresholds ----

TEST(ClassifyRagTest, HigherIsWorseThresholdsAreInclusive) {
  EXPECT_EQ(ClassifyRag(2.49, 2.5, 4, false), Rag::kGreen);
  EXPECT_EQ(ClassifyRag(2.5, 2.5, 4, false), Rag::kAmber);
  EXPECT_EQ(ClassifyRag(3.99, 2.5, 4, false), Rag::kAmber);
  EXPECT_EQ(ClassifyRag(4, 2.5, 4, false), Rag::kRed);
  EXPECT_EQ(ClassifyRag(400, 2.5, 4, false), Rag::kRed);
}

TEST(ClassifyRagTest, LowerIsWorseThresholdsAreInclusive) {
  // e.g. share of outage alerts delivered on time: amber at <= 95 %, red at <= 90 %.
  EXPECT_EQ(ClassifyRag(95.01, 95, 90, true), Rag::kGreen);
  EXPECT_EQ(ClassifyRag(95, 95, 90, true), Rag::kAmber);
  EXPECT_EQ(ClassifyRag(90.01, 95, 90, true), Rag::kAmber);
  EXPECT_EQ(ClassifyRag(90, 95, 90, true), Rag::kRed);
  EXPECT_EQ(ClassifyRag(0, 95, 90, true), Rag::kRed);
}

TEST(ClassifyRagTest, NanIsUnknown) {
  EXPECT_EQ(ClassifyRag(std::nan(""), 1, 2, false), Rag::kUnknown);
}

TEST(RagNameTest, Names) {
  EXPECT_STREQ(RagName(Rag::kGreen), "green");
  EXPECT_STREQ(RagName(Rag::kAmber), "amber");
  EXPECT_STREQ(RagName(Rag::kRed), "red");
  EXPECT_STREQ(RagName(Rag::kUnknown), "unknown");
}

TEST(EvaluateGoNoGoTest, CriterionRagsOnBoundariesInBothDirections) {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("per_inst", 2.5, 4), Lower("delivered_pct", 95, 90)};
  GoNoGoInputs in;
  in.metrics["per_inst"] = Val(2.5);
  in.metrics["delivered_pct"] = Val(90);
  const GoNoGoResult r = EvaluateGoNoGo(cfg, London(), in, Utc(2026, 1, 15, 6, 0), false);
  ASSERT_EQ(r.criteria.size(), 2u);
  EXPECT_EQ(r.criteria[0].rag, Rag::kAmber);
  EXPECT_EQ(r.criteria[1].rag, Rag::kRed);
  EXPECT_EQ(r.overall, Rag::kRed);
  EXPECT_EQ(r.recommendation, "pause the migration");
}

TEST(EvaluateGoNoGoTest, AllGreenIsGo) {
  const GoNoGoResult r =
      EvaluateGoNoGo(ConfigFor(2, GoNoGoConfig::Overall::kWorst), London(),
                     InputsWithRags({Rag::kGreen, Rag::kGreen}), Utc(2026, 1, 15, 6, 0), true);
  EXPECT_EQ(r.overall, Rag::kGreen);
  EXPECT_EQ(r.recommendation, "go");
  EXPECT_TRUE(r.notes.empty());
  EXPECT_TRUE(r.daily);
  EXPECT_EQ(r.local_date, "2026-01-15");
  EXPECT_EQ(r.local_time, "06:00:00 GMT");
  EXPECT_EQ(r.at, Utc(2026, 1, 15, 6, 0));
}

// ---- Worst vs majority ----

TEST(EvaluateGoNoGoTest, WorstTakesTheWorstCriterion) {
  const GoNoGoResult r = EvaluateGoNoGo(ConfigFor(3, GoNoGoConfig::Overall::kWorst), London(),
                                        InputsWithRags({Rag::kGreen, Rag::kGreen, Rag::kAmber}),
                                        Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(r.overall, Rag::kAmber);
  EXPECT_EQ(r.recommendation, "go with caution: slow the migration");
}

TEST(EvaluateGoNoGoTest, MajorityTakesTheMostCommonRagAndNotesTheWorse) {
  const GoNoGoResult r = EvaluateGoNoGo(ConfigFor(3, GoNoGoConfig::Overall::kMajority), London(),
                                        InputsWithRags({Rag::kGreen, Rag::kGreen, Rag::kRed}),
                                        Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(r.overall, Rag::kGreen);
  EXPECT_EQ(r.recommendation, "go");
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0], "majority rule: overall is green although 1 criterion is worse: m2");
}

TEST(EvaluateGoNoGoTest, MajorityTieGoesToTheWorse) {
  const GoNoGoResult two =
      EvaluateGoNoGo(ConfigFor(2, GoNoGoConfig::Overall::kMajority), London(),
                     InputsWithRags({Rag::kGreen, Rag::kRed}), Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(two.overall, Rag::kRed);
  const GoNoGoResult three = EvaluateGoNoGo(
      ConfigFor(3, GoNoGoConfig::Overall::kMajority), London(),
      InputsWithRags({Rag::kGreen, Rag::kAmber, Rag::kRed}), Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(three.overall, Rag::kRed);
  const GoNoGoResult four =
      EvaluateGoNoGo(ConfigFor(4, GoNoGoConfig::Overall::kMajority), London(),
                     InputsWithRags({Rag::kGreen, Rag::kAmber, Rag::kGreen, Rag::kAmber}),
                     Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(four.overall, Rag::kAmber);
}

// ---- Unknown handling ----

TEST(EvaluateGoNoGoTest, MissingMetricIsUnknownAndOverallAtLeastAmber) {
  GoNoGoInputs in = InputsWithRags({Rag::kGreen, Rag::kGreen});
  in.metrics.erase("m1");
  const GoNoGoResult r = EvaluateGoNoGo(ConfigFor(2, GoNoGoConfig::Overall::kWorst), London(), in,
                                        Utc(2026, 1, 15, 6, 0), true);
  ASSERT_EQ(r.criteria.size(), 2u);
  EXPECT_EQ(r.criteria[0].rag, Rag::kGreen);
  EXPECT_EQ(r.criteria[1].rag, Rag::kUnknown);
  EXPECT_FALSE(r.criteria[1].available);
  EXPECT_EQ(r.criteria[1].detail, "no data: metric not reported");
  EXPECT_EQ(r.overall, Rag::kAmber);
  EXPECT_EQ(r.recommendation, "go with caution: slow the migration");
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_EQ(r.notes[0], "1 criterion had no data: m1 (metric m1)");
  EXPECT_NE(r.notes[1].find("raised from green to amber"), std::string::npos) << r.notes[1];
}

TEST(EvaluateGoNoGoTest, UnavailableAndNanMetricsAreUnknown) {
  GoNoGoInputs in = InputsWithRags({Rag::kGreen, Rag::kGreen, Rag::kGreen});
  in.metrics["m1"] = MetricValue{0, false, "inventory not loaded"};
  in.metrics["m2"] = Val(std::nan(""));
  const GoNoGoResult r = EvaluateGoNoGo(ConfigFor(3, GoNoGoConfig::Overall::kMajority), London(),
                                        in, Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(r.criteria[1].rag, Rag::kUnknown);
  EXPECT_EQ(r.criteria[1].detail, "no data: inventory not loaded");
  EXPECT_EQ(r.criteria[2].rag, Rag::kUnknown);
  EXPECT_EQ(r.overall, Rag::kAmber);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_EQ(r.notes[0], "2 criteria had no data: m1 (metric m1), m2 (metric m2)");
}

TEST(EvaluateGoNoGoTest, UnknownDoesNotHideARed) {
  GoNoGoInputs in = InputsWithRags({Rag::kRed, Rag::kGreen});
  in.metrics.erase("m1");
  const GoNoGoResult r = EvaluateGoNoGo(ConfigFor(2, GoNoGoConfig::Overall::kWorst), London(), in,
                                        Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(r.overall, Rag::kRed);
  ASSERT_EQ(r.notes.size(), 1u);  // the missing data note, no "raised" note
  EXPECT_EQ(r.notes[0], "1 criterion had no data: m1 (metric m1)");
}

TEST(EvaluateGoNoGoTest, NoCriteriaIsUnknown) {
  const GoNoGoResult r =
      EvaluateGoNoGo(GoNoGoConfig{}, London(), GoNoGoInputs{}, Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(r.overall, Rag::kUnknown);
  EXPECT_NE(r.recommendation, "go");
  EXPECT_EQ(r.recommendation.rfind("no recommendation", 0), 0u) << r.recommendation;
}

TEST(EvaluateGoNoGoTest, NoDataAtAllIsUnknownNotGo) {
  const GoNoGoResult r = EvaluateGoNoGo(ConfigFor(2, GoNoGoConfig::Overall::kWorst), London(),
                                        GoNoGoInputs{}, Utc(2026, 1, 15, 6, 0), false);
  EXPECT_EQ(r.overall, Rag::kUnknown);
  EXPECT_EQ(r.recommendation, "no recommendation: no criterion had data");
  ASSERT_FALSE(r.notes.empty());
  EXPECT_EQ(r.notes[0], "2 criteria had no data: m0 (metric m0), m1 (metric m1)");
}

// ---- Configuration validation ----

TEST(ValidateGoNoGoConfigTest, AcceptsAValidConfig) {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("a", 2.5, 4), Lower("b", 95, 90), Higher("c", 3, 3)};
  EXPECT_TRUE(ValidateGoNoGoConfig(cfg).ok()) << ValidateGoNoGoConfig(cfg);
  EXPECT_TRUE(ValidateGoNoGoConfig(GoNoGoConfig{}).ok());
}

TEST(ValidateGoNoGoConfigTest, MessagesNameTheCriterion) {
  auto message = [](GoNoGoConfig cfg) {
    const absl::Status s = ValidateGoNoGoConfig(cfg);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("a", 1, 2), Higher("", 1, 2)};
  EXPECT_EQ(message(cfg), "gonogo criterion #2: id is empty");

  cfg.criteria = {Higher("a", 1, 2), Higher("a", 1, 2)};
  EXPECT_EQ(message(cfg),
            "gonogo criterion 'a' (#2): id is used by an earlier criterion; ids "
            "must be unique");

  cfg.criteria = {Higher("a", 1, 2)};
  cfg.criteria[0].metric = "";
  EXPECT_EQ(message(cfg), "gonogo criterion 'a' (#1): metric is empty");

  cfg.criteria = {Higher("per_inst", 4, 2.5)};
  EXPECT_EQ(message(cfg),
            "gonogo criterion 'per_inst' (#1): amber 4 is above red 2.5; with "
            "higher values worse, amber must be <= red (or set lower_is_worse)");

  cfg.criteria = {Lower("delivered", 90, 95)};
  EXPECT_EQ(message(cfg),
            "gonogo criterion 'delivered' (#1): amber 90 is below red 95; with "
            "lower values worse (lower_is_worse), amber must be >= red");

  cfg.criteria = {Higher("x", std::nan(""), 2)};
  EXPECT_EQ(message(cfg), "gonogo criterion 'x' (#1): amber and red must be finite numbers");
}

TEST(ValidateGoNoGoConfigTest, DecisionTimeRanges) {
  GoNoGoConfig cfg;
  cfg.decision_hour = 24;
  EXPECT_EQ(ValidateGoNoGoConfig(cfg).message(), "gonogo decision_hour 24 is not 0-23");
  cfg.decision_hour = -1;
  EXPECT_FALSE(ValidateGoNoGoConfig(cfg).ok());
  cfg.decision_hour = 23;
  cfg.decision_minute = 60;
  EXPECT_EQ(ValidateGoNoGoConfig(cfg).message(), "gonogo decision_minute 60 is not 0-59");
  cfg.decision_minute = 59;
  EXPECT_TRUE(ValidateGoNoGoConfig(cfg).ok());
  cfg.timezone = "";
  EXPECT_FALSE(ValidateGoNoGoConfig(cfg).ok());
}

// ---- Output ----

GoNoGoResult SampleResult() {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("smets1_alerts_per_installation", 2.5, 4),
                  Lower("pra_delivered_pct", 95, 90), Higher("noisy_devices", 100, 1000)};
  cfg.criteria[0].metric = "smets1_alerts_per_installation_24h";
  cfg.criteria[0].explanation = "OPSG asked to slow or pause migration if SMETS1 alerts grow";
  GoNoGoInputs in;
  in.metrics["smets1_alerts_per_installation_24h"] =
      Val(412311.0 / 180000.0, "412,311 alerts / 180,000 installations");
  in.metrics["pra_delivered_pct"] = Val(96.5, "outage alerts within target");
  in.dmcs = {{"8F40", 120000, 1234567, 42}, {"8014", 60000, 2000, 0}};
  in.areas = {{"Eastern", "UKPN", "South", 12345, 2500, 2000, 3},
              {"\"Quoted\" area", "SSEN", "North", 0, 0, 0, 0}};
  return EvaluateGoNoGo(cfg, London(), in, Utc(2026, 3, 30, 5, 0), true);
}

TEST(GoNoGoToJsonTest, Fields) {
  const GoNoGoResult r = SampleResult();
  const std::string j = GoNoGoToJson(r);
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
  const std::string at = std::to_string(Utc(2026, 3, 30, 5, 0).ms);
  EXPECT_NE(j.find("{\"at_ms\":" + at +
                   ",\"local_date\":\"2026-03-30\",\"local_time\":"
                   "\"06:00:00 BST\",\"daily\":true,\"overall\":\"amber\",\"recommendation\":"
                   "\"go with caution: slow the migration\",\"notes\":[\"1 criterion had no "
                   "data: noisy_devices (metric noisy_devices)\","),
            std::string::npos)
      << j;
  EXPECT_NE(
      j.find("{\"id\":\"smets1_alerts_per_installation\",\"metric\":"
             "\"smets1_alerts_per_installation_24h\",\"value\":2.2906166666666667,\"amber\":2.5,"
             "\"red\":4,\"direction\":\"higher_is_worse\",\"available\":true,\"rag\":"
             "\"green\",\"detail\":\"412,311 alerts / 180,000 installations\","
             "\"explanation\":\"OPSG asked to slow or pause migration if SMETS1 alerts "
             "grow\",\"effective_rag\":\"green\",\"overridden\":false,\"previous\":null,"
             "\"change\":\"no_previous\"}"),
      std::string::npos)
      << j;
  EXPECT_NE(j.find("{\"id\":\"pra_delivered_pct\",\"metric\":\"pra_delivered_pct\",\"value\":"
                   "96.5,\"amber\":95,\"red\":90,\"direction\":\"lower_is_worse\","
                   "\"available\":true,\"rag\":\"green\""),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("{\"id\":\"noisy_devices\",\"metric\":\"noisy_devices\",\"value\":null,"
                   "\"amber\":100,\"red\":1000,\"direction\":\"higher_is_worse\","
                   "\"available\":false,\"rag\":\"unknown\",\"detail\":\"no data: metric not "
                   "reported\",\"explanation\":\"\",\"effective_rag\":\"unknown\","
                   "\"overridden\":false,\"previous\":null,\"change\":\"no_previous\"}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"dmcs\":[{\"dmc\":\"8F40\",\"installations\":120000,\"alerts_24h\":1234567,"
                   "\"alerts_per_installation\":10.288058333333334,\"noisy_devices\":42},"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"areas\":[{\"area\":\"Eastern\",\"dno_group\":\"UKPN\",\"region\":"
                   "\"South\",\"smets1_alerts_24h\":12345,\"dno_flood_alerts_24h\":2500,"
                   "\"dno_flood_threshold\":2000,\"open_findings\":3},{\"area\":"
                   "\"\\\"Quoted\\\" area\""),
            std::string::npos)
      << j;
  EXPECT_EQ(j.find("nan"), std::string::npos);
  // In force: the computed decision (no overrides); the first decision has nothing before it.
  EXPECT_NE(j.find("\"effective_overall\":\"amber\",\"effective_recommendation\":\"go with "
                   "caution: slow the migration\",\"overall_overridden\":false,"
                   "\"previous_decision\":null,\"overall_change\":\"no_previous\","
                   "\"overrides\":[]}"),
            std::string::npos)
      << j;
}

TEST(GoNoGoToJsonTest, LargeIntegralValuesAreExactAndNonFiniteIsNull) {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("alerts", 1e6, 2e6), Higher("inf", 1, 2)};
  GoNoGoInputs in;
  in.metrics["alerts"] = Val(1234567);
  in.metrics["inf"] = Val(std::numeric_limits<double>::infinity());
  const std::string j =
      GoNoGoToJson(EvaluateGoNoGo(cfg, London(), in, Utc(2026, 1, 15, 6, 0), false));
  EXPECT_NE(j.find("\"value\":1234567,\"amber\":1000000,\"red\":2000000"), std::string::npos) << j;
  EXPECT_NE(j.find("\"id\":\"inf\",\"metric\":\"inf\",\"value\":null"), std::string::npos) << j;
  EXPECT_EQ(j.find("inf,"), std::string::npos) << j;
}

TEST(GoNoGoToTextTest, ReportHasTitleRecommendationTablesAndNotes) {
  const std::string t = GoNoGoToText(SampleResult());
  EXPECT_EQ(t.rfind("SMETS1 migration Go/No-Go, 2026-03-30 06:00:00 BST (daily decision)\n", 0), 0u)
      << t;
  EXPECT_NE(t.find("Overall: AMBER\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Recommendation: go with caution: slow the migration\n"), std::string::npos);
  // Criteria table: columns as wide as their widest cell, numbers right-aligned, directions on
  // the thresholds, the free-text detail last.
  EXPECT_NE(t.find("Criteria\n"
                   "  criterion                         value   amber       red  RAG      detail\n"
                   "  ------------------------------  -------  ------  --------  -------  "
                   "--------------------------------------\n"
                   "  smets1_alerts_per_installation     2.29  >= 2.5      >= 4  GREEN    "
                   "412,311 alerts / 180,000 installations\n"
                   "  pra_delivered_pct                  96.5   <= 95     <= 90  GREEN    "
                   "outage alerts within target\n"
                   "  noisy_devices                   no data  >= 100  >= 1,000  UNKNOWN  "
                   "no data: metric not reported\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("OPSG asked to slow or pause migration if SMETS1 alerts grow"),
            std::string::npos);
  // Per-DMC rows with thousands separators.
  EXPECT_NE(t.find("  DMC   installations  alerts 24h  alerts/installation  noisy devices\n"
                   "  ----  -------------  ----------  -------------------  -------------\n"
                   "  8F40        120,000   1,234,567                10.29             42\n"
                   "  8014         60,000       2,000                 0.03              0\n"),
            std::string::npos);
  // Per-area rows.
  EXPECT_NE(t.find("  Eastern        UKPN       South          12,345             2,500"
                   "            2,000            125%              3\n"
                   "  \"Quoted\" area  SSEN       North               0                 0"
                   "                0             n/a              0\n"),
            std::string::npos);
  // Recommendation before the tables, the tables in order.
  EXPECT_LT(t.find("Recommendation:"), t.find("Criteria\n"));
  EXPECT_LT(t.find("Criteria\n"), t.find("SMETS1 by DMC"));
  EXPECT_LT(t.find("SMETS1 by DMC"), t.find("By DNO area"));
  // Notes last.
  const size_t notes = t.find("\nNotes\n");
  ASSERT_NE(notes, std::string::npos);
  EXPECT_GT(notes, t.find("By DNO area"));
  EXPECT_NE(t.find("  - 1 criterion had no data: noisy_devices (metric noisy_devices)\n", notes),
            std::string::npos);
}

TEST(GoNoGoToTextTest, EmptyTablesSayso) {
  const std::string t = GoNoGoToText(
      EvaluateGoNoGo(GoNoGoConfig{}, London(), GoNoGoInputs{}, Utc(2026, 1, 15, 12, 0), false));
  EXPECT_NE(t.find("(continuous evaluation)"), std::string::npos);
  EXPECT_NE(t.find("Overall: UNKNOWN\n"), std::string::npos) << t;
  EXPECT_NE(t.find("(none configured)"), std::string::npos);
  EXPECT_NE(t.find("(no DMC figures)"), std::string::npos);
  EXPECT_NE(t.find("(no area figures)"), std::string::npos);
}

// ---- DailyDecision ----

GoNoGoConfig DailyConfig() {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("m0", 5, 10)};
  return cfg;
}

// Drives Due every 10 minutes over [from, to) and returns the instants it fired.
std::vector<EventTime> Fired(DailyDecision& d, EventTime from, EventTime to) {
  std::vector<EventTime> fired;
  for (EventTime t = from; t < to; t.ms += 10 * kMsPerMinute) {
    if (d.Due(t)) fired.push_back(t);
  }
  return fired;
}

TEST(DailyDecisionTest, OncePerDayAtSixLocalAcrossTheMarchChange) {
  DailyDecision d(DailyConfig(), London());
  const std::vector<EventTime> fired = Fired(d, Utc(2026, 3, 26, 0, 0), Utc(2026, 4, 1, 0, 0));
  const std::vector<EventTime> expected = {Utc(2026, 3, 26, 6, 0), Utc(2026, 3, 27, 6, 0),
                                           Utc(2026, 3, 28, 6, 0), Utc(2026, 3, 29, 5, 0),
                                           Utc(2026, 3, 30, 5, 0), Utc(2026, 3, 31, 5, 0)};
  EXPECT_EQ(fired, expected);
  EXPECT_EQ(d.next_due(), Utc(2026, 4, 1, 5, 0));
}

TEST(DailyDecisionTest, OncePerDayAtSixLocalAcrossTheOctoberChange) {
  DailyDecision d(DailyConfig(), London());
  const std::vector<EventTime> fired = Fired(d, Utc(2026, 10, 22, 0, 0), Utc(2026, 10, 28, 0, 0));
  const std::vector<EventTime> expected = {Utc(2026, 10, 22, 5, 0), Utc(2026, 10, 23, 5, 0),
                                           Utc(2026, 10, 24, 5, 0), Utc(2026, 10, 25, 6, 0),
                                           Utc(2026, 10, 26, 6, 0), Utc(2026, 10, 27, 6, 0)};
  EXPECT_EQ(fired, expected);
}

TEST(DailyDecisionTest, FirstCallOnlyArms) {
  DailyDecision d(DailyConfig(), London());
  EXPECT_FALSE(d.next_due().has_value());
  // Exactly at a decision instant: not due; the first decision is the next day's.
  EXPECT_FALSE(d.Due(Utc(2026, 1, 15, 6, 0)));
  EXPECT_EQ(d.next_due(), Utc(2026, 1, 16, 6, 0));
  EXPECT_FALSE(d.Due(Utc(2026, 1, 16, 5, 59, 59)));
  EXPECT_TRUE(d.Due(Utc(2026, 1, 16, 6, 0)));
  EXPECT_FALSE(d.Due(Utc(2026, 1, 16, 6, 0)));
  EXPECT_EQ(d.next_due(), Utc(2026, 1, 17, 6, 0));
}

TEST(DailyDecisionTest, ReplayGapIsDueOnceAndMovesPastNow) {
  DailyDecision d(DailyConfig(), London());
  EXPECT_FALSE(d.Due(Utc(2026, 1, 10, 0, 0)));
  EXPECT_TRUE(d.Due(Utc(2026, 1, 14, 12, 0)));  // four decision instants jumped over
  EXPECT_EQ(d.next_due(), Utc(2026, 1, 15, 6, 0));
  EXPECT_FALSE(d.Due(Utc(2026, 1, 14, 18, 0)));
  EXPECT_FALSE(d.Due(Utc(2026, 1, 10, 0, 0)));  // time going back is never due
}

TEST(DailyDecisionTest, HonoursTheConfiguredDecisionTime) {
  GoNoGoConfig cfg = DailyConfig();
  cfg.decision_hour = 7;
  cfg.decision_minute = 30;
  DailyDecision d(cfg, London());
  EXPECT_FALSE(d.Due(Utc(2026, 7, 1, 0, 0)));
  EXPECT_EQ(d.next_due(), Utc(2026, 7, 1, 6, 30));
}

TEST(DailyDecisionTest, HistoryIsBounded) {
  GoNoGoConfig cfg = DailyConfig();
  cfg.history_kept = 3;
  DailyDecision d(cfg, London());
  GoNoGoInputs in;
  in.metrics["m0"] = Val(1);
  for (int day = 1; day <= 5; ++day) {
    const GoNoGoResult r =
        EvaluateGoNoGo(d.config(), d.calendar(), in, Utc(2026, 2, day, 6, 0), true);
    d.Record(r);
  }
  ASSERT_EQ(d.history().size(), 3u);
  EXPECT_EQ(d.history().front().local_date, "2026-02-03");
  EXPECT_EQ(d.history().back().local_date, "2026-02-05");
}

TEST(DailyDecisionTest, WritesFilesNamedByLocalDate) {
  GoNoGoConfig cfg = DailyConfig();
  cfg.history_dir = TempDir("history") + "/nested/dir";  // created if missing
  DailyDecision d(cfg, London());
  GoNoGoInputs in;
  in.metrics["m0"] = Val(7, "7 of something");
  in.dmcs = {{"8F40", 1000, 2300, 4}};
  // 00:30 BST on 15 Jun is 23:30Z on 14 Jun: the file carries the local date.
  const GoNoGoResult r =
      EvaluateGoNoGo(d.config(), d.calendar(), in, Utc(2026, 6, 14, 23, 30), true);
  d.Record(r);
  ASSERT_TRUE(WriteGoNoGoHistory(cfg.history_dir, r).ok());
  const std::string json = ReadFile(cfg.history_dir + "/gonogo-2026-06-15.json");
  const std::string text = ReadFile(cfg.history_dir + "/gonogo-2026-06-15.txt");
  EXPECT_EQ(json, GoNoGoToJson(r) + "\n");
  EXPECT_EQ(text, GoNoGoToText(r));
  EXPECT_NE(json.find("\"local_date\":\"2026-06-15\""), std::string::npos);
  EXPECT_NE(text.find("8F40"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(cfg.history_dir + "/gonogo-2026-06-14.json"));
  EXPECT_FALSE(std::filesystem::exists(cfg.history_dir + "/gonogo-2026-06-15.json.tmp"));
  std::filesystem::remove_all(TempDir("history"));
}

TEST(DailyDecisionTest, UnwritableDirectoryIsAStatusAndHistoryStillKept) {
  const std::string base = TempDir("blocker");
  std::filesystem::create_directories(base);
  std::ofstream(base + "/file") << "x";  // a file where the directory should be
  GoNoGoConfig cfg = DailyConfig();
  cfg.history_dir = base + "/file/sub";
  DailyDecision d(cfg, London());
  const GoNoGoResult r =
      EvaluateGoNoGo(d.config(), d.calendar(), GoNoGoInputs{}, Utc(2026, 6, 15, 5, 0), true);
  d.Record(r);
  const absl::Status s = WriteGoNoGoHistory(cfg.history_dir, r);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(cfg.history_dir), std::string::npos) << s;
  EXPECT_EQ(d.history().size(), 1u);
  std::filesystem::remove_all(base);
}

TEST(DailyDecisionTest, DrivesEvaluateAndRecordAcrossDays) {
  GoNoGoConfig cfg = DailyConfig();
  cfg.history_dir = TempDir("run");
  DailyDecision d(cfg, London());
  GoNoGoInputs in;
  in.metrics["m0"] = Val(6);  // amber
  for (EventTime t = Utc(2026, 3, 27, 12, 0); t < Utc(2026, 3, 31, 0, 0);
       t.ms += 10 * kMsPerMinute) {
    if (!d.Due(t)) continue;
    const GoNoGoResult r = EvaluateGoNoGo(d.config(), d.calendar(), in, t, true);
    d.Record(r);
    ASSERT_TRUE(WriteGoNoGoHistory(cfg.history_dir, r).ok());
  }
  ASSERT_EQ(d.history().size(), 3u);
  EXPECT_EQ(d.history()[0].local_time, "06:00:00 GMT");
  EXPECT_EQ(d.history()[1].local_time, "06:00:00 BST");
  for (const char* date : {"2026-03-28", "2026-03-29", "2026-03-30"}) {
    EXPECT_TRUE(std::filesystem::exists(cfg.history_dir + "/gonogo-" + date + ".json")) << date;
    EXPECT_TRUE(std::filesystem::exists(cfg.history_dir + "/gonogo-" + date + ".txt")) << date;
  }
  std::filesystem::remove_all(cfg.history_dir);
}

TEST(ValidateGoNoGoConfigTest, OverallIsAReservedId) {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("a", 1, 2), Higher("overall", 1, 2)};
  const absl::Status s = ValidateGoNoGoConfig(cfg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'overall' (#2): id \"overall\" is reserved"), std::string::npos) << s;
}

// ---- The overall rule, shared by the computed decision and the overrides ----

TEST(CombineRagsTest, AgreesWithEvaluateGoNoGoOnEveryCombination) {
  const std::vector<Rag> all = {Rag::kGreen, Rag::kAmber, Rag::kRed, Rag::kUnknown};
  for (GoNoGoConfig::Overall mode :
       {GoNoGoConfig::Overall::kWorst, GoNoGoConfig::Overall::kMajority}) {
    for (size_t n = 1; n <= 3; ++n) {
      const GoNoGoConfig cfg = ConfigFor(n, mode);
      size_t combos = 1;
      for (size_t i = 0; i < n; ++i) combos *= all.size();
      for (size_t k = 0; k < combos; ++k) {
        std::vector<Rag> rags;
        GoNoGoInputs in;
        for (size_t i = 0, rest = k; i < n; ++i, rest /= all.size()) {
          rags.push_back(all[rest % all.size()]);
          if (rags.back() == Rag::kUnknown) continue;  // the metric is missing
          in.metrics[absl::StrCat("m", i)] = Val(rags.back() == Rag::kGreen   ? 1
                                                 : rags.back() == Rag::kAmber ? 5
                                                                              : 10);
        }
        const GoNoGoResult r = EvaluateGoNoGo(cfg, London(), in, Utc(2026, 1, 15, 6, 0), true);
        EXPECT_EQ(CombineRags(mode, rags), r.overall) << "combination " << k << " of " << n;
        // Without overrides, what is in force is what was computed.
        EXPECT_EQ(r.effective_overall, r.overall);
        EXPECT_EQ(r.effective_recommendation, r.recommendation);
        for (const CriterionResult& c : r.criteria) EXPECT_EQ(c.effective, c.rag);
      }
    }
  }
  EXPECT_EQ(CombineRags(GoNoGoConfig::Overall::kWorst, {}), Rag::kUnknown);
}

// ---- Daily decisions over several days: "since yesterday" ----

// m0: higher is worse (amber 5, red 10); m1: lower is worse (amber 95, red 90).
GoNoGoConfig TwoCriteria() {
  GoNoGoConfig cfg;
  cfg.criteria = {Higher("m0", 5, 10), Lower("m1", 95, 90)};
  return cfg;
}

struct Day {
  EventTime at;
  std::optional<double> m0, m1;  // nullopt: no data that day
};

// Four mornings (06:00 GMT): green, amber on m0, red on m0 with m1 missing, green again.
std::vector<Day> FourDays() {
  return {{Utc(2026, 3, 10, 6, 0), 3, 97},
          {Utc(2026, 3, 11, 6, 0), 6, 97},
          {Utc(2026, 3, 12, 6, 0), 12, std::nullopt},
          {Utc(2026, 3, 13, 6, 0), 4, 96}};
}

GoNoGoInputs InputsOf(const Day& d) {
  GoNoGoInputs in;
  if (d.m0) in.metrics["m0"] = Val(*d.m0);
  if (d.m1) in.metrics["m1"] = Val(*d.m1);
  return in;
}

// The change the scenario implies, worked out apart from the code under test.
RagChange ExpectedChange(std::optional<Rag> before, Rag now) {
  if (!before) return RagChange::kNoPrevious;
  if (*before == now) return RagChange::kUnchanged;
  if (*before == Rag::kUnknown || now == Rag::kUnknown) return RagChange::kChanged;
  return static_cast<int>(now) > static_cast<int>(*before) ? RagChange::kWorse : RagChange::kBetter;
}

TEST(DailyDecisionTest, EachDecisionSaysWhatChangedSinceThePreviousOne) {
  DailyDecision d(TwoCriteria(), London());
  const std::vector<Day> days = FourDays();
  std::optional<Rag> m0_before, m1_before, overall_before;
  std::optional<Day> before;
  for (const Day& day : days) {
    const GoNoGoResult recorded =
        d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(day), day.at, true));
    const Rag m0 = day.m0 ? ClassifyRag(*day.m0, 5, 10, false) : Rag::kUnknown;
    const Rag m1 = day.m1 ? ClassifyRag(*day.m1, 95, 90, true) : Rag::kUnknown;
    const Rag overall = CombineRags(GoNoGoConfig::Overall::kWorst, {m0, m1});
    ASSERT_EQ(recorded.criteria.size(), 2u);
    EXPECT_EQ(recorded.criteria[0].rag, m0);
    EXPECT_EQ(recorded.criteria[1].rag, m1);
    EXPECT_EQ(ChangeSincePrevious(recorded, recorded.criteria[0]), ExpectedChange(m0_before, m0))
        << recorded.local_date;
    EXPECT_EQ(ChangeSincePrevious(recorded, recorded.criteria[1]), ExpectedChange(m1_before, m1))
        << recorded.local_date;
    EXPECT_EQ(OverallChangeSincePrevious(recorded), ExpectedChange(overall_before, overall))
        << recorded.local_date;
    if (before) {
      EXPECT_EQ(recorded.previous_date, d.calendar().LocalDate(before->at));
      const PreviousRag& p0 = recorded.criteria[0].previous;
      EXPECT_TRUE(p0.present);
      EXPECT_EQ(p0.rag, *m0_before);
      EXPECT_EQ(p0.available, before->m0.has_value());
      if (before->m0) {
        EXPECT_EQ(p0.value, *before->m0);
      }
      EXPECT_EQ(recorded.criteria[1].previous.available, before->m1.has_value());
      if (before->m1) {
        EXPECT_EQ(recorded.criteria[1].previous.value, *before->m1);
      }
      EXPECT_EQ(recorded.previous_overall.rag, *overall_before);
    } else {
      EXPECT_EQ(recorded.previous_date, "");
      EXPECT_FALSE(recorded.criteria[0].previous.present);
    }
    // The history holds what Record returned (what the files show).
    EXPECT_EQ(GoNoGoToJson(d.history().back()), GoNoGoToJson(recorded));
    m0_before = m0;
    m1_before = m1;
    overall_before = overall;
    before = day;
  }
  ASSERT_EQ(d.history().size(), days.size());
  // The scenario has each kind of change at least once.
  const std::vector<GoNoGoResult> h = d.history();
  EXPECT_EQ(ChangeSincePrevious(h[1], h[1].criteria[0]), RagChange::kWorse);
  EXPECT_EQ(ChangeSincePrevious(h[1], h[1].criteria[1]), RagChange::kUnchanged);
  EXPECT_EQ(ChangeSincePrevious(h[2], h[2].criteria[1]), RagChange::kChanged);
  EXPECT_EQ(ChangeSincePrevious(h[3], h[3].criteria[0]), RagChange::kBetter);
}

TEST(DailyDecisionTest, ACriterionAddedByAReloadIsNew) {
  DailyDecision d(DailyConfig(), London());
  GoNoGoInputs in;
  in.metrics["m0"] = Val(1);
  in.metrics["m9"] = Val(1);
  d.Record(EvaluateGoNoGo(d.config(), d.calendar(), in, Utc(2026, 3, 10, 6, 0), true));
  GoNoGoConfig more = DailyConfig();
  more.criteria.push_back(Higher("m9", 5, 10));
  d.Reconfigure(more);
  const GoNoGoResult r =
      d.Record(EvaluateGoNoGo(d.config(), d.calendar(), in, Utc(2026, 3, 11, 6, 0), true));
  EXPECT_EQ(ChangeSincePrevious(r, r.criteria[0]), RagChange::kUnchanged);
  EXPECT_EQ(ChangeSincePrevious(r, r.criteria[1]), RagChange::kNew);
  EXPECT_NE(GoNoGoToJson(r).find("\"id\":\"m9\""), std::string::npos);
  EXPECT_NE(GoNoGoToJson(r).find("\"previous\":null,\"change\":\"new\""), std::string::npos);
}

TEST(GoNoGoToTextTest, DailyReportReadsLikeTheLscTable) {
  DailyDecision d(TwoCriteria(), London());
  const std::vector<Day> days = FourDays();
  d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[0]), days[0].at, true));
  const GoNoGoResult r =
      d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[1]), days[1].at, true));
  const std::string t = GoNoGoToText(r);
  // Day 2: m0 went from 3 (green) to 6 (amber >= 5); m1 stayed at 97 (green, above amber 95).
  EXPECT_NE(t.find("Overall: AMBER\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Since 2026-03-10: GREEN -> AMBER (worse)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Decision\n"
                   "  criterion  RAG    reason                               since 2026-03-10\n"
                   "  ---------  -----  -----------------------------------  "
                   "-----------------------------------\n"
                   "  m0         AMBER  6 >= amber 5                         GREEN -> AMBER "
                   "(worse); 3 -> 6 (+3)\n"
                   "  m1         GREEN  97 above amber 95                    unchanged (GREEN); "
                   "97 -> 97 (0)\n"
                   "  overall    AMBER  go with caution: slow the migration  GREEN -> AMBER "
                   "(worse)\n"),
            std::string::npos)
      << t;
  // The decision table comes before the figures.
  EXPECT_LT(t.find("Decision\n"), t.find("Criteria\n"));
  // The JSON carries the same comparison.
  const std::string j = GoNoGoToJson(r);
  EXPECT_NE(j.find("\"id\":\"m0\""), std::string::npos);
  EXPECT_NE(j.find("\"effective_rag\":\"amber\",\"overridden\":false,\"previous\":{\"rag\":"
                   "\"green\",\"overridden\":false,\"available\":true,\"value\":3},\"change\":"
                   "\"worse\"}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"previous_decision\":{\"local_date\":\"2026-03-10\",\"overall\":\"green\","
                   "\"overall_overridden\":false},\"overall_change\":\"worse\""),
            std::string::npos)
      << j;
  // The first decision says so.
  const std::string first = GoNoGoToText(d.history().front());
  EXPECT_NE(first.find("since the previous decision"), std::string::npos) << first;
  EXPECT_NE(first.find("first decision"), std::string::npos) << first;
}

// ---- Overrides ----

GoNoGoOverride Ov(const std::string& criterion, Rag rag, const std::string& reason = "known cause",
                  const std::string& by = "J Smith", int64_t recorded_at_ms = 1'773'100'000'000) {
  return GoNoGoOverride{criterion, rag, reason, by, recorded_at_ms};
}

TEST(GoNoGoOverrideTest, NothingToOverrideBeforeTheFirstDecision) {
  DailyDecision d(TwoCriteria(), London());
  const absl::StatusOr<GoNoGoResult> r = d.Override(Ov("m0", Rag::kGreen));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_TRUE(d.history().empty());
}

TEST(GoNoGoOverrideTest, RefusalsSayWhatIsWrong) {
  DailyDecision d(TwoCriteria(), London());
  const std::vector<Day> days = FourDays();
  d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[1]), days[1].at, true));
  const auto refused = [&](const GoNoGoOverride& o) {
    const absl::StatusOr<GoNoGoResult> r = d.Override(o);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string("accepted") : std::string(r.status().message());
  };
  EXPECT_EQ(refused(Ov("m7", Rag::kGreen)),
            "unknown criterion 'm7': the decision of 2026-03-11 has m0, m1, overall");
  EXPECT_EQ(refused(Ov("m0", Rag::kUnknown)), "rag must be green, amber or red");
  EXPECT_EQ(refused(Ov("m0", Rag::kGreen, " \t")), "reason is empty: say why");
  EXPECT_EQ(refused(Ov("m0", Rag::kGreen, "why", "")), "by is empty: say who decided");
  EXPECT_EQ(refused(Ov("m0", Rag::kGreen, std::string(kMaxOverrideReason + 1, 'x'))),
            absl::StrCat("reason is longer than ", kMaxOverrideReason, " bytes"));
  EXPECT_EQ(refused(Ov("m0", Rag::kGreen, "why", std::string(kMaxOverrideBy + 1, 'x'))),
            absl::StrCat("by is longer than ", kMaxOverrideBy, " bytes"));
  // Nothing refused was kept.
  EXPECT_TRUE(d.history().back().overrides.empty());
  EXPECT_EQ(d.history().back().effective_overall, Rag::kAmber);
  // The overrides of one decision are bounded.
  for (size_t i = 0; i < kMaxOverridesPerDecision; ++i) {
    ASSERT_TRUE(d.Override(Ov("m1", Rag::kGreen)).ok()) << i;
  }
  const absl::StatusOr<GoNoGoResult> r = d.Override(Ov("m1", Rag::kGreen));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
}

TEST(GoNoGoOverrideTest, LifecycleKeepsTheComputedRagAndAppliesToTheLatestDecisionOnly) {
  DailyDecision d(TwoCriteria(), London());
  const std::vector<Day> days = FourDays();
  d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[0]), days[0].at, true));
  const GoNoGoResult computed =
      d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[1]), days[1].at, true));
  ASSERT_EQ(computed.criteria[0].rag, Rag::kAmber);  // m0 = 6
  ASSERT_EQ(computed.overall, Rag::kAmber);

  // m0 overridden to green: the overall is recombined from what is in force (both green).
  absl::StatusOr<GoNoGoResult> r = d.Override(Ov("m0", Rag::kGreen, "DMC firmware fix deployed"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->criteria[0].rag, Rag::kAmber);  // the computed RAG is never lost
  EXPECT_EQ(r->criteria[0].effective, Rag::kGreen);
  EXPECT_TRUE(r->criteria[0].overridden);
  EXPECT_FALSE(r->criteria[1].overridden);
  EXPECT_EQ(r->overall, Rag::kAmber);
  EXPECT_EQ(r->effective_overall,
            CombineRags(GoNoGoConfig::Overall::kWorst, {Rag::kGreen, computed.criteria[1].rag}));
  EXPECT_EQ(r->effective_overall, Rag::kGreen);
  EXPECT_FALSE(r->overall_overridden);
  EXPECT_EQ(r->effective_recommendation, "go");
  EXPECT_EQ(r->recommendation, "go with caution: slow the migration");

  // The overall overridden to red wins over the criteria.
  r = d.Override(Ov("overall", Rag::kRed, "LSC holds migration for the carrier outage", "LSC"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->effective_overall, Rag::kRed);
  EXPECT_TRUE(r->overall_overridden);
  EXPECT_EQ(r->effective_recommendation, "pause the migration");

  // A second override of m0: the latest is in force, both are kept.
  r = d.Override(Ov("m0", Rag::kRed, "second look", "A N Other"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->criteria[0].effective, Rag::kRed);
  ASSERT_EQ(r->overrides.size(), 3u);
  EXPECT_EQ(r->overrides[0].reason, "DMC firmware fix deployed");
  EXPECT_EQ(LatestOverride(*r, "m0")->by, "A N Other");
  EXPECT_EQ(GoNoGoToJson(d.history().back()), GoNoGoToJson(*r));
  // The earlier decision is untouched.
  EXPECT_TRUE(d.history().front().overrides.empty());

  // The JSON and the text show the override next to the computed RAG.
  const std::string j = GoNoGoToJson(*r);
  EXPECT_NE(j.find("\"rag\":\"amber\",\"detail\":\"\",\"explanation\":\"\",\"effective_rag\":"
                   "\"red\",\"overridden\":true"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"effective_overall\":\"red\",\"effective_recommendation\":\"pause the "
                   "migration\",\"overall_overridden\":true"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("{\"criterion\":\"overall\",\"rag\":\"red\",\"computed_rag\":\"amber\","
                   "\"reason\":\"LSC holds migration for the carrier outage\",\"by\":\"LSC\","
                   "\"recorded_at_ms\":1773100000000,\"recorded_at\":\"2026-03-09T23:46:40"),
            std::string::npos)
      << j;
  const std::string t = GoNoGoToText(*r);
  EXPECT_NE(t.find("Overall: RED (operator override; computed AMBER)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("Recommendation: pause the migration\n"
                   "Computed recommendation: go with caution: slow the migration\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("  m0         RED (override)  override by A N Other: second look (computed "
                   "AMBER)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("  overall    RED (override)  override by LSC: LSC holds migration for the "
                   "carrier outage (computed AMBER)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("Overrides (oldest first"), std::string::npos) << t;
  EXPECT_NE(t.find("AMBER -> GREEN  J Smith    DMC firmware fix deployed\n"), std::string::npos)
      << t;

  // The next decision is computed afresh; its "since" compares with what was in force.
  const GoNoGoResult next =
      d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[2]), days[2].at, true));
  EXPECT_TRUE(next.overrides.empty());
  EXPECT_FALSE(next.criteria[0].overridden);
  EXPECT_EQ(next.criteria[0].previous.rag, Rag::kRed);
  EXPECT_TRUE(next.criteria[0].previous.overridden);
  EXPECT_EQ(next.criteria[0].previous.value, *days[1].m0);
  EXPECT_EQ(next.previous_overall.rag, Rag::kRed);
  EXPECT_TRUE(next.previous_overall.overridden);
  EXPECT_EQ(ChangeSincePrevious(next, next.criteria[0]), RagChange::kUnchanged);  // red, red
  // Overrides now go to the new decision.
  ASSERT_TRUE(d.Override(Ov("m1", Rag::kGreen)).ok());
  EXPECT_EQ(d.history()[1].overrides.size(), 3u);
  EXPECT_EQ(d.history()[2].overrides.size(), 1u);
}

// ---- Checkpoint state ----

std::string SaveDaily(const DailyDecision& d) {
  BinaryWriter w = BinaryWriter::ToMemory();
  d.SaveState(w);
  EXPECT_TRUE(w.ok());
  return w.TakeBytes();
}

std::string HistoryJson(const DailyDecision& d) {
  std::string out;
  for (const GoNoGoResult& r : d.history()) absl::StrAppend(&out, GoNoGoToJson(r), "\n");
  return out;
}

// Three decisions, overrides on the second and the third.
DailyDecision DecisionsWithOverrides() {
  DailyDecision d(TwoCriteria(), London());
  const std::vector<Day> days = FourDays();
  EXPECT_FALSE(d.Due(EventTime{days[0].at.ms - kMsPerHour}));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(d.Due(days[i].at));
    d.Record(EvaluateGoNoGo(d.config(), d.calendar(), InputsOf(days[i]), days[i].at, true));
    if (i >= 1) {
      EXPECT_TRUE(d.Override(Ov("m0", Rag::kGreen, absl::StrCat("day ", i))).ok());
    }
  }
  EXPECT_TRUE(d.Override(Ov("overall", Rag::kAmber, "hold at amber", "LSC")).ok());
  return d;
}

TEST(DailyDecisionStateTest, RoundTripKeepsOverridesLinksAndSchedule) {
  const DailyDecision d = DecisionsWithOverrides();
  const std::string bytes = SaveDaily(d);
  DailyDecision restored(TwoCriteria(), London());
  BinaryReader r = BinaryReader::FromMemory(bytes);
  bool rearmed = true;
  ASSERT_TRUE(restored.LoadState(r, &rearmed).ok());
  ASSERT_TRUE(r.Finish().ok());
  EXPECT_FALSE(rearmed);
  EXPECT_EQ(restored.next_due(), d.next_due());
  EXPECT_EQ(HistoryJson(restored), HistoryJson(d));
  EXPECT_EQ(restored.history().back().overrides.size(), 2u);
  EXPECT_EQ(restored.history().back().effective_overall, Rag::kAmber);
  // Saved again, byte for byte the same.
  EXPECT_EQ(SaveDaily(restored), bytes);
  // Overrides go on from where they were.
  ASSERT_TRUE(restored.Override(Ov("m1", Rag::kRed)).ok());
  EXPECT_EQ(restored.history().back().overrides.size(), 3u);
}

TEST(DailyDecisionStateTest, ReadsThePreviousLayoutAndLinksItsDecisions) {
  // Layout 1, as the build before overrides wrote it: the fingerprint (layout, zone, decision
  // time), the schedule, then the decisions alone.
  DailyDecision source(TwoCriteria(), London());
  const std::vector<Day> days = FourDays();
  std::vector<GoNoGoResult> decisions;
  for (const Day& day : days) {
    decisions.push_back(
        EvaluateGoNoGo(source.config(), source.calendar(), InputsOf(day), day.at, true));
  }
  BinaryWriter w = BinaryWriter::ToMemory();
  w.String(state_io::Fingerprint()
               .Pod<uint32_t>(1)
               .String("Europe/London")
               .Pod<int32_t>(6)
               .Pod<int32_t>(0)
               .Take());
  state_io::PutOptionalTime(w, Utc(2026, 3, 14, 6, 0));
  state_io::PutCount(w, decisions.size());
  for (const GoNoGoResult& r : decisions) SaveGoNoGoResult(w, r);
  const std::string bytes = w.TakeBytes();

  DailyDecision restored(TwoCriteria(), London());
  BinaryReader r = BinaryReader::FromMemory(bytes);
  bool rearmed = true;
  ASSERT_TRUE(restored.LoadState(r, &rearmed).ok());
  ASSERT_TRUE(r.Finish().ok());
  EXPECT_FALSE(rearmed);  // same zone and decision time: the schedule is kept
  EXPECT_EQ(restored.next_due(), Utc(2026, 3, 14, 6, 0));
  // The same history as recording the decisions one by one today.
  DailyDecision recorded(TwoCriteria(), London());
  for (const GoNoGoResult& r : decisions) recorded.Record(r);
  EXPECT_EQ(HistoryJson(restored), HistoryJson(recorded));
  EXPECT_EQ(restored.history()[1].previous_date, "2026-03-10");
  // And overrides apply to its latest decision.
  ASSERT_TRUE(restored.Override(Ov("m0", Rag::kAmber)).ok());
}

TEST(DailyDecisionStateTest, AnUnknownLayoutIsAFailedPreconditionAndChangesNothing) {
  BinaryWriter w = BinaryWriter::ToMemory();
  w.String(state_io::Fingerprint().Pod<uint32_t>(99).String("Europe/London").Take());
  state_io::PutOptionalTime(w, std::nullopt);
  state_io::PutCount(w, 0);
  const std::string bytes = w.TakeBytes();
  DailyDecision d = DecisionsWithOverrides();
  const std::string before = HistoryJson(d);
  BinaryReader r = BinaryReader::FromMemory(bytes);
  const absl::Status s = d.LoadState(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(HistoryJson(d), before);
}

TEST(DailyDecisionStateTest, TruncatedOrDamagedStateIsDataLossWithoutACrash) {
  const DailyDecision source = DecisionsWithOverrides();
  const std::string bytes = SaveDaily(source);
  const std::string before = HistoryJson(source);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    DailyDecision d = DecisionsWithOverrides();
    BinaryReader r = BinaryReader::FromMemory(std::string_view(bytes).substr(0, cut));
    const absl::Status s = d.LoadState(r);
    ASSERT_FALSE(s.ok() && r.Finish().ok()) << "cut at " << cut;
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << "cut at " << cut << ": " << s;
    }
    EXPECT_EQ(HistoryJson(d), before) << "cut at " << cut;
  }
  // Every byte flipped in turn: refused or read, never a crash or an invalid RAG.
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0xFF);
    DailyDecision d(TwoCriteria(), London());
    BinaryReader r = BinaryReader::FromMemory(damaged);
    if (!d.LoadState(r).ok()) continue;
    for (const GoNoGoResult& h : d.history()) {
      EXPECT_LE(static_cast<int>(h.effective_overall), static_cast<int>(Rag::kUnknown));
      for (const CriterionResult& c : h.criteria) {
        EXPECT_LE(static_cast<int>(c.effective), static_cast<int>(Rag::kUnknown));
      }
    }
  }
}

}  // namespace
}  // namespace smetsmon::rules
