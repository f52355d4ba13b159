#include "rules/gonogo.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "report/gonogo_report.h"
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
             "grow\"}"),
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
                   "reported\",\"explanation\":\"\"}"),
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

}  // namespace
}  // namespace smetsmon::rules
