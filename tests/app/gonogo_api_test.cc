// The Go/No-Go override as an operator records it: POST /api/v1/gonogo/override through the
// daemon's HTTP handler (and its real server on port 0), refused without a configured and given
// bearer token or with a bad body, and once recorded visible in GET /api/v1/gonogo (history), the
// metrics (the daily status in force, the computed one, override_active) and the history files,
// and kept across a restart (the evaluator's checkpoint state). Hermetic: a manual clock, event
// times as arguments, loopback on port 0, no sleeps.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "app/api.h"
#include "app/daemon.h"
#include "app/gonogo_override.h"
#include "http/server.h"
#include "metrics/daemon_metrics.h"
#include "metrics/rules_metrics.h"
#include "report/gonogo_report.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"
#include "testing/net.h"

namespace smetsmon::app {
namespace {

using rules::Rag;

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z (BST: decisions at 05:00Z)
constexpr int64_t kDecisionAt = kT0 + 6 * kMsPerHour;
constexpr ProcessingTime kWallClock{1'687'770'000'000};  // the operator's wall clock
constexpr char kToken[] = "s3cret";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::pair<int, std::string> Post(uint16_t port, const std::string& path, const std::string& body,
                                 const std::string& token) {
  std::string req = absl::StrCat("POST ", path,
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                 "Content-Type: application/json\r\nContent-Length: ",
                                 body.size(), "\r\n");
  if (!token.empty()) absl::StrAppend(&req, "Authorization: Bearer ", token, "\r\n");
  absl::StrAppend(&req, "\r\n", body);
  return testing::HttpExchange(port, req);
}

std::string OverrideBody(const std::string& criterion, const std::string& rag,
                         const std::string& reason, const std::string& by) {
  return absl::StrCat(R"({"criterion": ")", criterion, R"(", "rag": ")", rag, R"(", "reason": ")",
                      reason, R"(", "by": ")", by, R"("})");
}

class GoNoGoApiTest : public ::testing::Test {
 protected:
  GoNoGoApiTest() : ref_(testing::LoadTestReference()), clock_(kWallClock) {
    auto loaded = rules::LoadRulesConfig(testing::ConfigDir() + "/rules.yaml", ref_);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    config_ = *std::move(loaded);
    history_dir_ = testing::TempPath("history");
    std::filesystem::remove_all(history_dir_);
    config_.gonogo.history_dir = history_dir_;
    Start();
  }
  ~GoNoGoApiTest() override { std::filesystem::remove_all(history_dir_); }

  // A fresh engine and evaluator (a restart), the decisions' files going to history_dir_.
  void Start() {
    const aggregate::FleetLayout layout(*ref_.areas, *ref_.catalogue, *ref_.dmcs, *ref_.cohorts);
    setup_ = std::make_unique<aggregate::RuleInputsSetup>(
        rules::BuildRuleInputsSetup(config_, layout, 5 * kMsPerMinute));
    aggregate::EngineConfig ec;
    ec.workers = 1;
    ec.expected_devices = 1 << 10;
    ec.dedup_capacity = 1 << 12;
    ec.rule_inputs = setup_.get();
    evaluator_.reset();
    engine_ = std::make_unique<aggregate::Engine>(ref_, ec);
    auto ev = rules::Evaluator::Create(*engine_, config_);
    ASSERT_TRUE(ev.ok()) << ev.status();
    evaluator_ = *std::move(ev);
    evaluator_->set_decision_sink([](const rules::GoNoGoConfig& c, const rules::GoNoGoResult& r) {
      return report::WriteGoNoGoHistory(c.history_dir, r);
    });
    daemon_.engine = engine_.get();
    daemon_.evaluator = evaluator_.get();
    daemon_.clock = &clock_;
    daemon_.bearer_token = kToken;
    rules_metrics_ = std::make_unique<metrics::RulesMetrics>(*evaluator_);
  }

  void Tick(int64_t t) {
    for (size_t w = 0; w < engine_->worker_count(); ++w) engine_->worker(w).PublishRuleInputs();
    evaluator_->Tick(EventTime{t}, /*force=*/true);
  }
  // The first evaluation arms the schedule; the next, past 06:00 London time, decides.
  void Decide() {
    Tick(kT0);
    Tick(kDecisionAt);
    ASSERT_EQ(evaluator_->Snapshot().gonogo_history.size(), 1u);
  }

  http::Response Call(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& token = kToken) {
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    if (!token.empty()) req.authorization = absl::StrCat("Bearer ", token);
    http::Response out{-1, "", ""};
    HandleHttp(daemon_, req, [&out](http::Response r) { out = std::move(r); });
    return out;
  }
  http::Response PostOverride(const std::string& body, const std::string& token = kToken) {
    return Call("POST", "/api/v1/gonogo/override", body, token);
  }

  double Metric(const std::string& series) const {
    return testing::MetricValue(metrics::RenderText({rules_metrics_.get()}), series);
  }
  std::string DecisionFile(const char* ext) const {
    return ReadFile(history_dir_ + "/gonogo-2023-06-26." + ext);
  }

  catalog::ReferenceData ref_;
  rules::RulesConfig config_;
  std::unique_ptr<aggregate::RuleInputsSetup> setup_;
  std::unique_ptr<aggregate::Engine> engine_;
  std::unique_ptr<rules::Evaluator> evaluator_;
  std::unique_ptr<metrics::RulesMetrics> rules_metrics_;
  ManualClock clock_;
  Daemon daemon_;
  std::string history_dir_;
};

// What the decision state keeps of a decision's JSON: its computed figures, the RAGs in force,
// the link to the previous decision and the overrides ("dmcs" and "areas" included; the
// migration-load block between "areas" and "effective_overall" is not part of the history state).
std::string DecisionParts(const std::string& json) {
  const size_t effective = json.find(",\"effective_overall\"");
  const size_t migration = json.find(",\"migration_load\"");
  if (effective == std::string::npos) return json;
  std::string head = json.substr(0, migration == std::string::npos ? effective : migration);
  std::string tail = json.substr(effective);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  EXPECT_NE(tail.find("\"overrides\":[{"), std::string::npos) << json;
  return head + tail;
}

// The criterion the tests override: the configuration's first, to a RAG other than the computed.
struct Target {
  std::string id;
  Rag computed, wanted;
};
Target PickTarget(const rules::GoNoGoResult& decision) {
  const rules::CriterionResult& c = decision.criteria.front();
  return {c.id, c.rag, c.rag == Rag::kRed ? Rag::kGreen : Rag::kRed};
}

TEST_F(GoNoGoApiTest, AnOverrideIsRecordedAndShownInTheApiMetricsAndFiles) {
  Decide();
  const rules::GoNoGoResult decision = evaluator_->Snapshot().gonogo_history.back();
  const Target target = PickTarget(decision);
  const std::string series = absl::StrCat("{criterion=\"", target.id, "\"}");
  // Before: the daily metrics are the computed decision, nothing overridden.
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_decision_timestamp_seconds"), kDecisionAt / 1000.0);
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_status" + series), static_cast<double>(target.computed));
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_status{criterion=\"overall\"}"),
            static_cast<double>(decision.overall));
  EXPECT_EQ(Metric("smetsmon_gonogo_override_active" + series), 0);
  EXPECT_EQ(DecisionFile("json"), report::GoNoGoToJson(decision) + "\n");

  boost::asio::io_context io;
  auto server = http::Server::Start(io, "127.0.0.1:0",
                                    [this](const http::Request& r, http::Responder respond) {
                                      HandleHttp(daemon_, r, std::move(respond));
                                    });
  ASSERT_TRUE(server.ok()) << server.status();
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  const uint16_t port = (*server)->port();

  const std::string wanted = rules::RagName(target.wanted);
  const auto [status, body] = Post(
      port, "/api/v1/gonogo/override",
      OverrideBody(target.id, wanted, "known DMC firmware fault, fix rolling out", "J Smith (DCC)"),
      kToken);
  EXPECT_EQ(status, 200) << body;
  EXPECT_NE(body.find(absl::StrCat(
                "{\"override\":{\"criterion\":\"", target.id, "\",\"rag\":\"", wanted,
                "\",\"reason\":\"known DMC firmware fault, fix rolling "
                "out\",\"by\":\"J Smith (DCC)\",\"recorded_at_ms\":",
                kWallClock.ms,
                ",\"decision_local_date\":\"2023-06-26\",\"decision_at_ms\":", kDecisionAt, "}")),
            std::string::npos)
      << body;
  // The API's history shows it next to the computed RAG, at once (no evaluation in between).
  const auto [get_status, gonogo] = testing::HttpGet(port, "/api/v1/gonogo", kToken);
  io.stop();
  io_thread.join();
  EXPECT_EQ(get_status, 200);
  const size_t history = gonogo.find("\"history\":[");
  ASSERT_NE(history, std::string::npos) << gonogo;
  EXPECT_NE(
      gonogo.find(absl::StrCat("\"effective_rag\":\"", wanted, "\",\"overridden\":true"), history),
      std::string::npos)
      << gonogo;
  EXPECT_NE(
      gonogo.find(absl::StrCat("\"overrides\":[{\"criterion\":\"", target.id, "\",\"rag\":\"",
                               wanted, "\",\"computed_rag\":\"", rules::RagName(target.computed),
                               "\",\"reason\":\"known DMC firmware fault, fix rolling out\","
                               "\"by\":\"J Smith (DCC)\",\"recorded_at_ms\":",
                               kWallClock.ms),
                  history),
      std::string::npos)
      << gonogo;

  // The metrics: in force, computed, and which is overridden; the overall recombined by the
  // configured rule from what is in force.
  const rules::RulesSnapshot snap = evaluator_->Snapshot();
  const rules::GoNoGoResult& now = snap.gonogo_history.back();
  std::vector<Rag> in_force;
  for (const rules::CriterionResult& c : now.criteria) {
    in_force.push_back(c.id == target.id ? target.wanted : c.rag);
  }
  const Rag overall = rules::CombineRags(config_.gonogo.overall, in_force);
  EXPECT_EQ(now.effective_overall, overall);
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_status" + series), static_cast<double>(target.wanted));
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_computed_status" + series),
            static_cast<double>(target.computed));
  EXPECT_EQ(Metric("smetsmon_gonogo_override_active" + series), 1);
  EXPECT_EQ(Metric("smetsmon_gonogo_override_active{criterion=\"overall\"}"), 0);
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_status{criterion=\"overall\"}"),
            static_cast<double>(overall));
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_computed_status{criterion=\"overall\"}"),
            static_cast<double>(decision.overall));
  for (const rules::CriterionResult& c : now.criteria) {
    if (c.id == target.id) continue;
    EXPECT_EQ(Metric(absl::StrCat("smetsmon_gonogo_override_active{criterion=\"", c.id, "\"}")), 0)
        << c.id;
  }

  // The files are written again by the rules thread at its next evaluation.
  EXPECT_EQ(DecisionFile("json").find("\"overridden\":true"), std::string::npos);
  Tick(kDecisionAt + kMsPerMinute);
  EXPECT_EQ(DecisionFile("json"), report::GoNoGoToJson(now) + "\n");
  EXPECT_EQ(DecisionFile("txt"), report::GoNoGoToText(now));
  EXPECT_NE(DecisionFile("txt").find(absl::StrCat(
                "override by J Smith (DCC): known DMC firmware fault, fix rolling out (computed ",
                absl::AsciiStrToUpper(rules::RagName(target.computed)), ")")),
            std::string::npos);

  // An override of the overall wins over the criteria's.
  const http::Response r =
      PostOverride(OverrideBody("overall", "amber", "LSC: proceed at half volume", "LSC chair"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Metric("smetsmon_gonogo_daily_status{criterion=\"overall\"}"),
            static_cast<double>(Rag::kAmber));
  EXPECT_EQ(Metric("smetsmon_gonogo_override_active{criterion=\"overall\"}"), 1);
}

TEST_F(GoNoGoApiTest, RefusedWithoutAConfiguredAndGivenToken) {
  Decide();
  const std::string id = PickTarget(evaluator_->Snapshot().gonogo_history.back()).id;
  const std::string body = OverrideBody(id, "green", "why", "who");
  daemon_.bearer_token.clear();  // none configured: overrides are refused outright
  http::Response r = PostOverride(body, "");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("overrides need a bearer token: configure http.bearer_token_file"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(Call("GET", "/api/v1/gonogo", "", "").status, 200);  // reading stays open
  daemon_.bearer_token = kToken;
  EXPECT_EQ(PostOverride(body, "").status, 401);
  EXPECT_EQ(PostOverride(body, "guess").status, 401);
  // Only POST records; every other path is read-only.
  EXPECT_EQ(Call("GET", "/api/v1/gonogo/override", "").status, 405);
  EXPECT_EQ(Call("POST", "/api/v1/findings", body).status, 405);
  EXPECT_EQ(Call("POST", "/metrics", body).status, 405);
  // Nothing was recorded.
  EXPECT_TRUE(evaluator_->Snapshot().gonogo_history.back().overrides.empty());
  EXPECT_EQ(Metric(absl::StrCat("smetsmon_gonogo_override_active{criterion=\"", id, "\"}")), 0);
}

TEST_F(GoNoGoApiTest, BadBodiesAreRefusedWithTheReason) {
  Tick(kT0);
  // Before the first daily decision there is nothing to override.
  http::Response r = PostOverride(OverrideBody("overall", "red", "why", "who"));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("no daily decision has been taken yet"), std::string::npos) << r.body;
  Decide();
  const std::string id = PickTarget(evaluator_->Snapshot().gonogo_history.back()).id;
  const auto refused = [&](const std::string& body) {
    const http::Response r = PostOverride(body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    return r.body;
  };
  EXPECT_NE(refused("not json").find("the body is not a JSON object"), std::string::npos);
  EXPECT_NE(refused(R"({"criterion": "overall", oops)").find("the body is not valid JSON"),
            std::string::npos);
  EXPECT_NE(refused("[1, 2]").find("the body is not a JSON object"), std::string::npos);
  EXPECT_NE(refused(R"({"criterion":"overall","rag":"red","reason":"x","by":"y"} 7)")
                .find("the body is not valid JSON"),
            std::string::npos);
  EXPECT_NE(refused(R"({"criterion":"overall","rgb":"red","reason":"x","by":"y"})")
                .find("unknown field 'rgb'"),
            std::string::npos);
  EXPECT_NE(refused(R"({"criterion":"overall","criterion":"x","rag":"red","reason":"x","by":"y"})")
                .find("field 'criterion' is given twice"),
            std::string::npos);
  EXPECT_NE(refused(R"({"criterion":"overall","rag":2,"reason":"x","by":"y"})")
                .find("'rag' is not a string"),
            std::string::npos);
  EXPECT_NE(refused(R"({"criterion":"overall","rag":"red","by":"y"})").find("'reason' is missing"),
            std::string::npos);
  EXPECT_NE(refused(OverrideBody("no_such_criterion", "red", "why", "who"))
                .find("unknown criterion 'no_such_criterion': the decision of 2023-06-26 has "),
            std::string::npos);
  EXPECT_NE(refused(OverrideBody(id, "purple", "why", "who"))
                .find("rag 'purple' is not green, amber or red"),
            std::string::npos);
  EXPECT_NE(refused(OverrideBody(id, "unknown", "why", "who")).find("is not green, amber or red"),
            std::string::npos);
  EXPECT_NE(refused(OverrideBody(id, "red", "", "who")).find("reason is empty"), std::string::npos);
  EXPECT_NE(refused(OverrideBody(id, "red", "why", "  ")).find("by is empty"), std::string::npos);
  EXPECT_TRUE(evaluator_->Snapshot().gonogo_history.back().overrides.empty());
  // A RAG in capitals is a RAG.
  r = PostOverride(OverrideBody(id, "RED", "why", "who"));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(GoNoGoApiTest, ABodyOverTheLimitIs413) {
  boost::asio::io_context io;
  std::vector<http::Request> seen;
  auto server = http::Server::Start(io, "127.0.0.1:0",
                                    [&seen](const http::Request& r, http::Responder respond) {
                                      seen.push_back(r);
                                      respond({200, "text/plain", "ok"});
                                    });
  ASSERT_TRUE(server.ok()) << server.status();
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  const uint16_t port = (*server)->port();
  // Over the limit (announced by Content-Length): 413, the handler never called.
  const auto [too_big, body] = testing::HttpExchange(
      port, absl::StrCat("POST /api/v1/gonogo/override HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Length: ",
                         http::kMaxRequestBodyBytes + 1, "\r\n\r\n"));
  // At the limit: read whole and handed over with its method.
  const std::string at_limit(http::kMaxRequestBodyBytes, 'x');
  const auto [ok, ok_body] = Post(port, "/x", at_limit, "");
  // Methods other than GET, HEAD and POST stop at the server.
  const auto [put, put_body] = testing::HttpExchange(
      port, "PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  io.stop();
  io_thread.join();
  EXPECT_EQ(too_big, 413) << body;
  EXPECT_NE(body.find(absl::StrCat("request body over ", http::kMaxRequestBodyBytes, " bytes")),
            std::string::npos)
      << body;
  EXPECT_EQ(ok, 200) << ok_body;
  EXPECT_EQ(put, 405) << put_body;
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, at_limit);
}

TEST_F(GoNoGoApiTest, AnOverrideSurvivesARestart) {
  Decide();
  const Target target = PickTarget(evaluator_->Snapshot().gonogo_history.back());
  ASSERT_EQ(
      PostOverride(OverrideBody(target.id, rules::RagName(target.wanted), "kept", "ops")).status,
      200);
  const std::string before =
      DecisionParts(report::GoNoGoToJson(evaluator_->Snapshot().gonogo_history.back()));
  BinaryWriter w = BinaryWriter::ToMemory();
  evaluator_->SaveState(w);
  ASSERT_TRUE(w.ok());
  const std::string state = w.TakeBytes();
  // The decision's files are removed: the restarted daemon writes them again with the override.
  std::filesystem::remove_all(history_dir_);

  Start();  // a new engine and evaluator, as after a restart
  BinaryReader r = BinaryReader::FromMemory(state);
  ASSERT_TRUE(evaluator_->LoadState(r).ok());
  ASSERT_TRUE(r.Finish().ok());
  const rules::RulesSnapshot restored = evaluator_->Snapshot();
  ASSERT_EQ(restored.gonogo_history.size(), 1u);
  EXPECT_EQ(DecisionParts(report::GoNoGoToJson(restored.gonogo_history.back())), before);
  EXPECT_EQ(Metric(absl::StrCat("smetsmon_gonogo_override_active{criterion=\"", target.id, "\"}")),
            1);
  EXPECT_EQ(Metric(absl::StrCat("smetsmon_gonogo_daily_status{criterion=\"", target.id, "\"}")),
            static_cast<double>(target.wanted));
  Tick(kDecisionAt + kMsPerMinute);
  EXPECT_EQ(DecisionParts(DecisionFile("json")), before);
}

}  // namespace
}  // namespace smetsmon::app
