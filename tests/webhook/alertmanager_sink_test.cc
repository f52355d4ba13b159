// The Alertmanager sink against a loopback receiver standing in for Alertmanager's
// /api/v2/alerts: what it posts (postable alerts with the webhook payload's labels), when (at
// once on a change, else each resend interval), resolved notices once with the finding's end,
// and retries after a failure; what it told Alertmanager surviving a restart through its state
// file. Time is the test's: Update takes `now`.
#include "webhook/alertmanager_sink.h"

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include "base/fields.h"
#include "webhook/mini_json.h"
#include "webhook/payload.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using testing::Json;
using testing::JsonParser;

constexpr int64_t kResendMs = 60'000;
constexpr ProcessingTime kT0{1'709'290'000'000};

class AlertmanagerSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(receiver_.Start());
    auto url = ParseUrl(receiver_.Url("/am/"));
    ASSERT_TRUE(url.ok());
    config_.url = *url;
    config_.resend_interval_ms = kResendMs;
    Restart();
  }

  // A new sink from config_ (the old one's state is only what its state file holds, if any).
  void Restart() {
    sink_.reset();
    auto sink = AlertmanagerSink::Create(config_, "http://smetsmon.test:9477", areas_, io_);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
  }

  // Keeps state in a fresh directory's `am.state`.
  void UseStateFile() {
    config_.state_file = testing::FreshDir("am-state") + "/state/am.state";  // dir made by Create
    Restart();
  }

  // Runs Update and, when it started a request, the io_context until the answer is handled.
  bool Update(const std::vector<rules::Finding>& open, const std::vector<rules::Finding>& closed,
              ProcessingTime now) {
    return Update(open, closed, now, now.ms);
  }
  // With a monotonic clock of its own (a stepped wall clock).
  bool Update(const std::vector<rules::Finding>& open, const std::vector<rules::Finding>& closed,
              ProcessingTime now, int64_t mono_ms) {
    const bool sent = sink_->Update(open, closed, now, mono_ms);
    io_.restart();
    io_.run();
    return sent;
  }

  // The alerts of the last request, by finding id.
  std::map<std::string, Json> LastAlerts() {
    const auto requests = receiver_.requests();
    std::map<std::string, Json> out;
    if (requests.empty()) return out;
    auto doc = JsonParser::Parse(requests.back().body);
    EXPECT_TRUE(doc && doc->is_array()) << requests.back().body;
    if (!doc) return out;
    for (const Json& a : doc->array) out[a["labels"]["finding_id"].string] = a;
    return out;
  }

  catalog::AreaTable areas_ = testing::LoadAreas();
  testing::TestReceiver receiver_;
  boost::asio::io_context io_;
  AlertmanagerConfig config_;
  std::unique_ptr<AlertmanagerSink> sink_;
};

TEST_F(AlertmanagerSinkTest, PostsFiringFindingsWithTheWebhookLabels) {
  const rules::Finding outage = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({outage}, {}, kT0));
  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/am/api/v2/alerts");
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  const auto alerts = LastAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  const Json& a = alerts.at(outage.id);
  // The same labels and annotations as the webhook payload carries.
  auto webhook = JsonParser::Parse(
      BuildAlertmanagerPayload(outage, false, "dno", "", areas_, ProcessingTime{0}));
  ASSERT_TRUE(webhook.has_value());
  const Json& expected = (*webhook)["alerts"][0];
  ASSERT_EQ(a["labels"].object.size(), expected["labels"].object.size());
  for (const auto& [k, v] : expected["labels"].object) {
    EXPECT_EQ(a["labels"][k].string, v.string) << k;
  }
  ASSERT_EQ(a["annotations"].object.size(), expected["annotations"].object.size());
  for (const auto& [k, v] : expected["annotations"].object) {
    EXPECT_EQ(a["annotations"][k].string, v.string) << k;
  }
  EXPECT_EQ(a["labels"]["alertname"].string, "smetsmon_power_outage");
  EXPECT_EQ(a["startsAt"].string, FormatRfc3339Utc(outage.start.ms));
  // Firing: endsAt four resend intervals ahead, so it expires if we stop sending.
  EXPECT_EQ(a["endsAt"].string, FormatRfc3339Utc(kT0.ms + 4 * kResendMs));
  EXPECT_EQ(a["generatorURL"].string, "http://smetsmon.test:9477/api/v1/findings");
  EXPECT_EQ(sink_->stats().posts_ok, 1u);
  EXPECT_EQ(sink_->stats().firing, 1u);
}

TEST_F(AlertmanagerSinkTest, ResendsOnChangeOrWhenTheIntervalIsDue) {
  rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  const rules::Finding b = testing::AreaFinding(areas_, "power_outage:b:1", 14);
  ASSERT_TRUE(Update({a}, {}, kT0));
  EXPECT_FALSE(Update({a}, {}, ProcessingTime{kT0.ms + 5'000}));     // nothing new, not due
  EXPECT_TRUE(Update({a, b}, {}, ProcessingTime{kT0.ms + 10'000}));  // a new finding: at once
  EXPECT_EQ(LastAlerts().size(), 2u);
  a.severity = rules::Severity::kWarning;  // a severity change: at once
  EXPECT_TRUE(Update({a, b}, {}, ProcessingTime{kT0.ms + 15'000}));
  EXPECT_EQ(LastAlerts().at(a.id)["labels"]["severity"].string, "warning");
  EXPECT_FALSE(Update({a, b}, {}, ProcessingTime{kT0.ms + 15'000 + kResendMs - 1}));
  EXPECT_TRUE(Update({a, b}, {}, ProcessingTime{kT0.ms + 15'000 + kResendMs}));  // due
  EXPECT_EQ(receiver_.count(), 4u);
  EXPECT_EQ(sink_->stats().firing_sent, 1u + 2 + 2 + 2);
}

TEST_F(AlertmanagerSinkTest, ResendTimingIsMonotonicWhateverTheWallClockDoes) {
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  constexpr int64_t kStep = 6 * kMsPerHour;
  ASSERT_TRUE(Update({a}, {}, kT0, 0));
  // The wall clock stepped forward: not due before the interval has really passed.
  EXPECT_FALSE(Update({a}, {}, ProcessingTime{kT0.ms + kStep + 5'000}, 5'000));
  // Stepped back: due once it has, however far behind the wall clock is.
  EXPECT_FALSE(Update({a}, {}, ProcessingTime{kT0.ms - kStep + kResendMs - 1}, kResendMs - 1));
  EXPECT_TRUE(Update({a}, {}, ProcessingTime{kT0.ms - kStep + kResendMs}, kResendMs));
  EXPECT_EQ(receiver_.count(), 2u);
}

TEST_F(AlertmanagerSinkTest, ClosedFindingIsSentResolvedOnceWithItsEnd) {
  rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  const rules::Finding b = testing::AreaFinding(areas_, "power_outage:b:1", 14);
  ASSERT_TRUE(Update({a, b}, {}, kT0));
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 3'600'000};
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 5'000}));
  auto alerts = LastAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts.at(a.id)["endsAt"].string, FormatRfc3339Utc(closed.end->ms));
  EXPECT_EQ(alerts.at(b.id)["endsAt"].string, FormatRfc3339Utc(kT0.ms + 5'000 + 4 * kResendMs));
  // The next re-send carries only the firing one; the resolved one is never sent again.
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 5'000 + kResendMs}));
  alerts = LastAlerts();
  EXPECT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts.count(b.id), 1u);
  EXPECT_EQ(sink_->stats().resolved_sent, 1u);
  // A finding closed before Alertmanager ever heard of it is not sent.
  rules::Finding unknown = testing::AreaFinding(areas_, "power_outage:c:1", 16);
  unknown.end = EventTime{unknown.start.ms + 60'000};
  EXPECT_FALSE(Update({b}, {closed, unknown}, ProcessingTime{kT0.ms + 6'000 + kResendMs}));
}

TEST_F(AlertmanagerSinkTest, FindingGoneWithoutACloseIsResolvedNow) {
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({a}, {}, kT0));
  // Not open and not in the closed history (a reload dropped it): resolved at `now`.
  ASSERT_TRUE(Update({}, {}, ProcessingTime{kT0.ms + 7'000}));
  const auto alerts = LastAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts.at(a.id)["endsAt"].string, FormatRfc3339Utc(kT0.ms + 7'000));
  EXPECT_EQ(sink_->stats().firing, 0u);
}

TEST_F(AlertmanagerSinkTest, FailureIsRetriedAtTheNextUpdateAndKeepsResolvedNotices) {
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  const rules::Finding b = testing::AreaFinding(areas_, "power_outage:b:1", 14);
  ASSERT_TRUE(Update({a, b}, {}, kT0));
  receiver_.set_handler(
      [](const testing::ReceivedRequest&) { return testing::Reply::Status(503); });
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 600'000};
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 1'000}));
  EXPECT_EQ(sink_->stats().posts_failed, 1u);
  EXPECT_EQ(sink_->stats().pending_resolved, 1u);
  // Not due by the interval, but the last send failed: it is retried.
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 2'000}));
  EXPECT_EQ(sink_->stats().posts_failed, 2u);
  receiver_.set_handler({});
  receiver_.Stop();  // down: connection refused is a failure too
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 3'000}));
  EXPECT_EQ(sink_->stats().posts_failed, 3u);
  ASSERT_TRUE(receiver_.Start(config_.url.port));
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 4'000}));
  const auto alerts = LastAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts.at(a.id)["endsAt"].string, FormatRfc3339Utc(closed.end->ms));
  EXPECT_EQ(sink_->stats().pending_resolved, 0u);
  EXPECT_EQ(sink_->stats().posts_ok, 2u);
}

TEST_F(AlertmanagerSinkTest, AResolvedFindingIsNeverSentAsFiringAgain) {
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({a}, {}, kT0));
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 600'000};
  ASSERT_TRUE(Update({}, {closed}, ProcessingTime{kT0.ms + 1'000}));
  // The evaluator lists it open again (a restored one catching up): nothing is sent, not even
  // when the resend interval is due.
  EXPECT_FALSE(Update({a}, {}, ProcessingTime{kT0.ms + 2'000}));
  EXPECT_FALSE(Update({a}, {}, ProcessingTime{kT0.ms + 2'000 + kResendMs}));
  EXPECT_EQ(receiver_.count(), 2u);
  EXPECT_EQ(sink_->stats().refires_ignored, 2u);
  EXPECT_EQ(sink_->stats().firing, 0u);
}

// Told firing, then the daemon stops; the finding closes while it is down. The restarted sink
// holds what it had told (a finding merely absent proves nothing yet: the evaluator may not have
// re-read that far) and sends the resolved once the evaluator lists the finding closed.
TEST_F(AlertmanagerSinkTest, RestartSendsTheResolvedOfAFindingClosedWhileDown) {
  UseStateFile();
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  const rules::Finding b = testing::AreaFinding(areas_, "power_outage:b:1", 14);
  ASSERT_TRUE(Update({a, b}, {}, kT0));
  Restart();
  EXPECT_EQ(sink_->stats().held, 2u);
  ASSERT_TRUE(Update({b}, {}, ProcessingTime{kT0.ms + 5 * kMsPerMinute}));
  auto alerts = LastAlerts();
  EXPECT_EQ(alerts.size(), 1u);  // b firing; a neither re-sent nor resolved yet
  EXPECT_EQ(alerts.count(b.id), 1u);
  EXPECT_EQ(sink_->stats().held, 1u);
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 42 * kMsPerMinute};
  ASSERT_TRUE(Update({b}, {closed}, ProcessingTime{kT0.ms + 6 * kMsPerMinute}));
  alerts = LastAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts.at(a.id)["endsAt"].string, FormatRfc3339Utc(closed.end->ms));
  EXPECT_EQ(alerts.at(a.id)["labels"]["area"].string, areas_.area(a.area).name);
  EXPECT_EQ(alerts.at(a.id)["annotations"]["description"].string, a.explanation);
  EXPECT_EQ(sink_->stats().held, 0u);
  EXPECT_EQ(sink_->stats().resolved_sent, 1u);
}

// Resolved and delivered before a restart: the restarted sink, given the finding open (restored
// evaluator) and then closed again, sends neither.
TEST_F(AlertmanagerSinkTest, RestartDoesNotResendAResolvedFinding) {
  UseStateFile();
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({a}, {}, kT0));
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 600'000};
  ASSERT_TRUE(Update({}, {closed}, ProcessingTime{kT0.ms + 1'000}));
  ASSERT_EQ(receiver_.count(), 2u);
  Restart();
  EXPECT_FALSE(Update({a}, {}, ProcessingTime{kT0.ms + 5 * kMsPerMinute}));
  EXPECT_FALSE(Update({}, {closed}, ProcessingTime{kT0.ms + 6 * kMsPerMinute}));
  EXPECT_EQ(receiver_.count(), 2u);
  EXPECT_EQ(sink_->stats().refires_ignored, 1u);
}

TEST_F(AlertmanagerSinkTest, ResolvedNoticeNotYetDeliveredSurvivesARestart) {
  UseStateFile();
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({a}, {}, kT0));
  receiver_.set_handler(
      [](const testing::ReceivedRequest&) { return testing::Reply::Status(503); });
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 600'000};
  ASSERT_TRUE(Update({}, {closed}, ProcessingTime{kT0.ms + 1'000}));
  ASSERT_EQ(sink_->stats().pending_resolved, 1u);
  Restart();
  receiver_.set_handler({});
  EXPECT_EQ(sink_->stats().pending_resolved, 1u);
  ASSERT_TRUE(Update({}, {}, ProcessingTime{kT0.ms + 2'000}));
  const auto alerts = LastAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts.at(a.id)["endsAt"].string, FormatRfc3339Utc(closed.end->ms));
  EXPECT_EQ(sink_->stats().pending_resolved, 0u);
  EXPECT_FALSE(Update({a}, {closed}, ProcessingTime{kT0.ms + 3'000}));  // and never again
}

// A finding restored as firing that the evaluator never mentions again is forgotten after a day
// (Alertmanager expired it at its last endsAt), without a resolved notice of our making.
TEST_F(AlertmanagerSinkTest, RestoredFindingNeverSeenAgainIsForgottenAfterADay) {
  UseStateFile();
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({a}, {}, kT0));
  Restart();
  EXPECT_FALSE(Update({}, {}, ProcessingTime{kT0.ms + kMsPerMinute}));
  EXPECT_EQ(sink_->stats().held, 1u);
  EXPECT_FALSE(Update({}, {}, ProcessingTime{kT0.ms + kMsPerMinute + 24 * kMsPerHour}));
  EXPECT_EQ(sink_->stats().held, 0u);
  EXPECT_EQ(receiver_.count(), 1u);
  Restart();  // and the file says so
  EXPECT_EQ(sink_->stats().held, 0u);
}

TEST_F(AlertmanagerSinkTest, CorruptStateFileIsSetAsideAndTheSinkStartsEmpty) {
  UseStateFile();
  const rules::Finding a = testing::AreaFinding(areas_, "power_outage:a:1", 12);
  ASSERT_TRUE(Update({a}, {}, kT0));
  rules::Finding closed = a;
  closed.end = EventTime{a.start.ms + 600'000};
  ASSERT_TRUE(Update({}, {closed}, ProcessingTime{kT0.ms + 1'000}));  // resolved: in the file
  std::string text;
  {
    std::ifstream in(config_.state_file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(text.find("resolved: " + a.id), std::string::npos);
  text.resize(text.size() - 5);  // the checksum line cut short, as by a torn write
  smetsmon::testing::WriteFile(config_.state_file, text);
  ::testing::internal::CaptureStderr();
  Restart();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, ::testing::HasSubstr("level=warn"));
  EXPECT_THAT(log, ::testing::HasSubstr("state file unreadable"));
  EXPECT_TRUE(std::filesystem::exists(config_.state_file + ".corrupt"));
  // Nothing remembered: the finding it had resolved is firing news again.
  EXPECT_TRUE(Update({a}, {}, ProcessingTime{kT0.ms + 2'000}));
  EXPECT_EQ(LastAlerts().count(a.id), 1u);
}

TEST(AlertmanagerConfigTest, StateFileDefaultsToTheSpoolDir) {
  const catalog::AreaTable areas = testing::LoadAreas();
  auto c = LoadWebhookConfig(
      YAML::Load("spool_dir: /var/lib/x\nalertmanager: {url: 'http://127.0.0.1:9093'}"),
      "smetsmon.yaml", areas);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alertmanager->state_file, "/var/lib/x/alertmanager.state");
  c = LoadWebhookConfig(YAML::Load("spool_dir: /var/lib/x\n"
                                   "alertmanager: {url: 'http://127.0.0.1:9093', state_file: ''}"),
                        "smetsmon.yaml", areas);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alertmanager->state_file, "");  // in memory only
  c = LoadWebhookConfig(YAML::Load("alertmanager: {url: 'http://127.0.0.1:9093', "
                                   "state_file: /tmp/am.state}"),
                        "smetsmon.yaml", areas);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alertmanager->state_file, "/tmp/am.state");
  c = LoadWebhookConfig(YAML::Load("alertmanager: {url: 'http://127.0.0.1:9093'}"), "smetsmon.yaml",
                        areas);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->alertmanager->state_file, "");  // no spool_dir: in memory only
}

TEST(AlertmanagerConfigTest, ReadsTheSectionAndRejectsMistakes) {
  const catalog::AreaTable areas = testing::LoadAreas();
  auto ok = LoadWebhookConfig(YAML::Load("alertmanager:\n"
                                         "  url: http://127.0.0.1:9093\n"
                                         "  resend_interval: 30s\n"
                                         "  request_timeout: 3s\n"),
                              "smetsmon.yaml", areas);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_TRUE(ok->alertmanager.has_value());
  EXPECT_EQ(ok->alertmanager->url.port, 9093);
  EXPECT_EQ(ok->alertmanager->resend_interval_ms, 30'000);
  EXPECT_EQ(ok->alertmanager->request_timeout_ms, 3'000);
  EXPECT_TRUE(ok->receivers.empty());
  EXPECT_FALSE(LoadWebhookConfig(YAML::Load("{}"), "smetsmon.yaml", areas)->alertmanager);
  for (const auto& [yaml, field] : std::vector<std::pair<std::string, std::string>>{
           {"alertmanager: {resend_interval: 1m}", "webhooks.alertmanager.url"},
           {"alertmanager: {url: 'ftp://x'}", "webhooks.alertmanager.url"},
           {"alertmanager: {url: 'http://x', resend_interval: 10ms}",
            "webhooks.alertmanager.resend_interval"},
           {"alertmanager: {url: 'http://x', route: y}", "webhooks.alertmanager.route"},
           {"alertmanager: [x]", "webhooks.alertmanager"}}) {
    auto bad = LoadWebhookConfig(YAML::Load(yaml), "smetsmon.yaml", areas);
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_NE(bad.status().message().find(field), std::string::npos) << bad.status();
    EXPECT_NE(bad.status().message().find("smetsmon.yaml"), std::string::npos) << bad.status();
  }
}

}  // namespace
}  // namespace smetsmon::webhook
