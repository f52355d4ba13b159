#include "webhook/dispatcher.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "webhook/mini_json.h"
#include "webhook/payload.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using ::testing::HasSubstr;
using testing::Reply;
using testing::TestReceiver;

constexpr int64_t kStart = 1'709'287'260'000;  // 2024-03-01T10:01:00Z

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spool_dir_ = testing::FreshDir("spool");
    ASSERT_TRUE(receiver_.Start());
  }

  WebhookConfig Config(std::vector<ReceiverConfig> receivers) {
    WebhookConfig c;
    c.receivers = std::move(receivers);
    c.spool_dir = spool_dir_;
    c.external_url = "http://smetsmon.test:9477";
    return c;
  }
  WebhookConfig OneReceiver() { return Config({testing::MakeReceiver("dno", receiver_.Url())}); }

  std::unique_ptr<Dispatcher> Make(const WebhookConfig& c) {
    auto d = Dispatcher::Create(c, areas_, clock_);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  rules::Finding Outage(const std::string& id, rules::Severity s = rules::Severity::kCritical,
                        int dist = 10) {
    return testing::AreaFinding(areas_, id, dist, s);
  }

  // Pumps until nothing more is ready at the current (manual) time.
  static size_t Drain(Dispatcher& d) {
    size_t total = 0;
    for (int i = 0; i < 10'000; ++i) {
      const size_t n = d.Pump();
      if (n == 0) break;
      total += n;
    }
    return total;
  }

  static ReceiverStats StatsOf(const Dispatcher& d, const std::string& name) {
    for (const ReceiverStats& s : d.Stats()) {
      if (s.receiver == name) return s;
    }
    ADD_FAILURE() << "no receiver " << name;
    return {};
  }

  static std::string FindingIdOf(const testing::ReceivedRequest& r) {
    auto j = testing::JsonParser::Parse(r.body);
    return j ? (*j)["alerts"][0]["labels"]["finding_id"].string : "";
  }
  static std::string StatusOf(const testing::ReceivedRequest& r) {
    auto j = testing::JsonParser::Parse(r.body);
    return j ? (*j)["status"].string : "";
  }
  static std::string SeverityOf(const testing::ReceivedRequest& r) {
    auto j = testing::JsonParser::Parse(r.body);
    return j ? (*j)["alerts"][0]["labels"]["severity"].string : "";
  }
  std::string ToldStatePath() const { return spool_dir_ + "/" + kToldStateFile; }
  static std::vector<std::string> KeysOf(const std::vector<testing::ReceivedRequest>& reqs) {
    std::vector<std::string> keys;
    for (const auto& r : reqs) keys.push_back(r.Header("idempotency-key"));
    return keys;
  }
  // Enqueues `f` at each severity of `path` in turn, each delivered before the next.
  void Walk(Dispatcher& d, rules::Finding& f, const std::vector<rules::Severity>& path) {
    for (rules::Severity s : path) {
      f.severity = s;
      ASSERT_EQ(*d.Enqueue(f, false), 1u) << rules::SeverityName(s);
      ASSERT_EQ(d.Pump(), 1u);
      clock_.Advance(kMsPerMinute);
    }
  }

  catalog::AreaTable areas_ = testing::LoadAreas();
  ManualClock clock_{ProcessingTime{kStart}};
  std::string spool_dir_;
  TestReceiver receiver_;
};

TEST_F(DispatcherTest, PostsSignedAlertmanagerPayload) {
  auto d = Make(OneReceiver());
  const rules::Finding f = Outage("power_outage:area=Eastern:1709287200000");
  auto n = d->Enqueue(f, false);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(testing::FilesIn(spool_dir_, ".ntf").size(), 1u);  // durable before it is sent

  EXPECT_EQ(d->Pump(), 1u);
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const testing::ReceivedRequest& r = reqs[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("x-smetsmon-signature"), testing::ExpectedSignature("s3cret", r.body));
  EXPECT_EQ(r.Header("x-smetsmon-timestamp"), std::to_string(kStart / 1000));
  EXPECT_EQ(r.Header("idempotency-key").size(), 32u);
  EXPECT_EQ(r.Header("x-smetsmon-attempt"), "1");
  EXPECT_EQ(r.body, BuildAlertmanagerPayload(f, false, "dno", "http://smetsmon.test:9477", areas_,
                                             ProcessingTime{kStart}));
  auto j = testing::JsonParser::Parse(r.body);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["receiver"].string, "dno");
  EXPECT_EQ((*j)["status"].string, "firing");

  const ReceiverStats s = StatsOf(*d, "dno");
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.retried + s.rejected + s.dead_lettered, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
  EXPECT_EQ(d->Pump(), 0u);
}

TEST_F(DispatcherTest, OneNotificationPerStateChange) {
  WebhookConfig c = Config({testing::MakeReceiver("dno", receiver_.Url()),
                            testing::MakeReceiver("quiet", receiver_.Url())});
  c.receivers[1].send_resolved = false;
  auto d = Make(c);
  rules::Finding f = Outage("power_outage:area=Eastern:1", rules::Severity::kWarning);
  EXPECT_EQ(*d->Enqueue(f, false), 2u);  // opened
  EXPECT_EQ(*d->Enqueue(f, false), 0u);  // unchanged (figures may differ: not a state change)
  f.severity = rules::Severity::kCritical;
  EXPECT_EQ(*d->Enqueue(f, false), 2u);  // severity changed
  f.end = EventTime{f.start.ms + 600'000};
  EXPECT_EQ(*d->Enqueue(f, true), 1u);  // resolved: not to "quiet"
  EXPECT_EQ(*d->Enqueue(f, true), 0u);  // already resolved
  Drain(*d);
  // Newer states superseded older undelivered ones: each receiver got its latest state only.
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  std::multiset<std::string> statuses;
  for (const auto& r : reqs) statuses.insert(StatusOf(r));
  EXPECT_EQ(statuses, (std::multiset<std::string>{"firing", "resolved"}));
  EXPECT_EQ(StatsOf(*d, "dno").superseded, 2u);
  EXPECT_EQ(StatsOf(*d, "quiet").superseded, 1u);
}

TEST_F(DispatcherTest, StatesOfAFindingArriveInOrder) {
  auto d = Make(OneReceiver());
  rules::Finding f = Outage("power_outage:area=Eastern:2", rules::Severity::kWarning);
  ASSERT_EQ(*d->Enqueue(f, false), 1u);
  ASSERT_EQ(d->Pump(), 1u);
  f.severity = rules::Severity::kCritical;
  ASSERT_EQ(*d->Enqueue(f, false), 1u);
  ASSERT_EQ(d->Pump(), 1u);
  f.end = EventTime{f.start.ms + 60'000};
  ASSERT_EQ(*d->Enqueue(f, true), 1u);
  ASSERT_EQ(d->Pump(), 1u);
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_THAT(reqs[0].body, HasSubstr("\"severity\":\"warning\""));
  EXPECT_THAT(reqs[1].body, HasSubstr("\"severity\":\"critical\""));
  EXPECT_EQ(StatusOf(reqs[2]), "resolved");
  std::set<std::string> keys;
  for (const auto& r : reqs) keys.insert(r.Header("idempotency-key"));
  EXPECT_EQ(keys.size(), 3u);  // distinct notifications, distinct keys
}

TEST_F(DispatcherTest, ReceiverDownThenUpGetsEverythingOnceAndNoKeyTwice) {
  const uint16_t port = receiver_.port();
  auto d = Make(OneReceiver());
  receiver_.Stop();  // connections refused from now on
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back("power_outage:area=Eastern:" + std::to_string(i));
    ASSERT_EQ(*d->Enqueue(Outage(ids.back(), static_cast<rules::Severity>(i % 3)), false), 1u);
  }
  // Down for ~20 minutes of retries (the breaker opens and half-opens on the way).
  for (int step = 0; step < 10; ++step) {
    Drain(*d);
    clock_.Advance(2 * kMsPerMinute);
  }
  EXPECT_EQ(receiver_.count(), 0u);
  EXPECT_EQ(d->pending(), 6u);
  EXPECT_GT(StatsOf(*d, "dno").retried, 5u);
  EXPECT_GE(StatsOf(*d, "dno").circuit_opened, 1u);

  ASSERT_TRUE(receiver_.Start(port));  // back up
  for (int step = 0; step < 10 && d->pending() > 0; ++step) {
    Drain(*d);
    clock_.Advance(kMsPerMinute);
  }
  EXPECT_EQ(d->pending(), 0u);
  const auto reqs = receiver_.requests();
  std::map<std::string, int> by_key, by_finding;
  for (const auto& r : reqs) {
    ++by_key[r.Header("idempotency-key")];
    ++by_finding[FindingIdOf(r)];
    EXPECT_EQ(r.Header("x-smetsmon-signature"), testing::ExpectedSignature("s3cret", r.body));
  }
  EXPECT_EQ(reqs.size(), 6u);
  for (const auto& [key, n] : by_key) EXPECT_EQ(n, 1) << key;
  for (const std::string& id : ids) EXPECT_EQ(by_finding[id], 1) << id;
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 6u);
  EXPECT_EQ(StatsOf(*d, "dno").circuit, CircuitState::kClosed);
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
}

TEST_F(DispatcherTest, LostResponseIsRetriedWithTheSameKeyAndBody) {
  int calls = 0;
  receiver_.set_handler([&](const testing::ReceivedRequest&) {
    return ++calls == 1 ? Reply::Drop() : Reply::Status(200);
  });
  auto d = Make(OneReceiver());
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:9"), false), 1u);
  EXPECT_EQ(d->Pump(), 1u);  // the receiver read it but the answer never came
  EXPECT_EQ(StatsOf(*d, "dno").retried, 1u);
  EXPECT_EQ(d->Pump(), 0u);  // backing off
  clock_.Advance(2 * kMsPerSecond);
  EXPECT_EQ(d->Pump(), 1u);
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("idempotency-key"), reqs[1].Header("idempotency-key"));
  EXPECT_EQ(reqs[0].body, reqs[1].body);
  EXPECT_EQ(reqs[0].Header("x-smetsmon-attempt"), "1");
  EXPECT_EQ(reqs[1].Header("x-smetsmon-attempt"), "2");
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 1u);
}

TEST_F(DispatcherTest, ClientErrorIsNotRetriedButDeadLettered) {
  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(400); });
  auto d = Make(OneReceiver());
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:4"), false), 1u);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(d->Pump(), 1u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("level=warn"));
  EXPECT_THAT(log, HasSubstr("receiver=dno"));
  EXPECT_THAT(log, HasSubstr("status=400"));
  clock_.Advance(kMsPerHour);
  EXPECT_EQ(d->Pump(), 0u);
  EXPECT_EQ(receiver_.count(), 1u);
  const ReceiverStats s = StatsOf(*d, "dno");
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.retried, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(s.circuit, CircuitState::kClosed);
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
  const auto dead = testing::FilesIn(spool_dir_ + "/dead", ".ntf");
  ASSERT_EQ(dead.size(), 1u);
}

class RetryableStatusTest : public DispatcherTest, public ::testing::WithParamInterface<int> {};

TEST_P(RetryableStatusTest, IsRetriedWithBackoff) {
  int calls = 0;
  receiver_.set_handler([&](const testing::ReceivedRequest&) {
    return ++calls == 1 ? Reply::Status(GetParam()) : Reply::Status(204);
  });
  WebhookConfig c = OneReceiver();
  c.backoff.jitter = 0;
  auto d = Make(c);
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:5"), false), 1u);
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(StatsOf(*d, "dno").retried, 1u);
  clock_.Advance(999);
  EXPECT_EQ(d->Pump(), 0u);  // initial backoff is 1 s
  clock_.Advance(1);
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 1u);
}

INSTANTIATE_TEST_SUITE_P(Statuses, RetryableStatusTest, ::testing::Values(500, 502, 503, 408, 429));

TEST_F(DispatcherTest, RetryAfterIsHonoured) {
  int calls = 0;
  receiver_.set_handler([&](const testing::ReceivedRequest&) {
    if (++calls > 1) return Reply::Status(200);
    Reply r = Reply::Status(429);
    r.headers = {{"Retry-After", "30"}};
    return r;
  });
  auto d = Make(OneReceiver());
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:6"), false), 1u);
  EXPECT_EQ(d->Pump(), 1u);
  clock_.Advance(29 * kMsPerSecond);
  EXPECT_EQ(d->Pump(), 0u);
  clock_.Advance(kMsPerSecond);
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 1u);
}

TEST_F(DispatcherTest, TimeoutIsRetried) {
  int calls = 0;
  receiver_.set_handler([&](const testing::ReceivedRequest&) {
    return ++calls == 1 ? Reply::Hang() : Reply::Status(200);
  });
  WebhookConfig c = OneReceiver();
  c.receivers[0].request_timeout_ms = 200;  // a real timer: keep it short
  auto d = Make(c);
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:7"), false), 1u);
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(StatsOf(*d, "dno").retried, 1u);
  clock_.Advance(2 * kMsPerSecond);
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 1u);
}

TEST_F(DispatcherTest, CriticalGoesBeforeABacklogOfInfo) {
  const uint16_t port = receiver_.port();
  auto d = Make(OneReceiver());
  receiver_.Stop();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(*d->Enqueue(Outage("noise:" + std::to_string(i), rules::Severity::kInfo), false), 1u);
  }
  for (int step = 0; step < 3; ++step) {  // the info backlog fails and backs off
    Drain(*d);
    clock_.Advance(10 * kMsPerSecond);
  }
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:critical"), false), 1u);
  ASSERT_TRUE(receiver_.Start(port));
  clock_.Advance(10 * kMsPerMinute);  // every info item is due again too
  EXPECT_EQ(d->Pump(), 1u);
  const auto first = receiver_.requests();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(FindingIdOf(first[0]), "power_outage:area=Eastern:critical");
  Drain(*d);
  EXPECT_EQ(receiver_.count(), 21u);
}

TEST_F(DispatcherTest, PriorityOrderWithoutFailures) {
  auto d = Make(OneReceiver());
  for (int i = 0; i < 5; ++i) {
    d->Enqueue(Outage("info:" + std::to_string(i), rules::Severity::kInfo), false).IgnoreError();
  }
  d->Enqueue(Outage("warning:0", rules::Severity::kWarning), false).IgnoreError();
  d->Enqueue(Outage("critical:0", rules::Severity::kCritical), false).IgnoreError();
  Drain(*d);
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 7u);
  EXPECT_EQ(FindingIdOf(reqs[0]), "critical:0");
  EXPECT_EQ(FindingIdOf(reqs[1]), "warning:0");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(FindingIdOf(reqs[2 + i]), "info:" + std::to_string(i));
}

TEST_F(DispatcherTest, AFailingReceiverDoesNotHoldBackAnother) {
  TestReceiver broken([](const testing::ReceivedRequest&) { return Reply::Status(503); });
  ASSERT_TRUE(broken.Start());
  auto d = Make(Config({testing::MakeReceiver("broken", broken.Url()),
                        testing::MakeReceiver("dno", receiver_.Url())}));
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:" + std::to_string(i)), false), 2u);
  }
  Drain(*d);  // no clock advance: the broken receiver's retries wait, the other one drains
  EXPECT_EQ(receiver_.count(), 4u);
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 4u);
  EXPECT_EQ(StatsOf(*d, "broken").queue_depth, 4u);
  EXPECT_EQ(StatsOf(*d, "broken").retried, 4u);
}

TEST_F(DispatcherTest, CircuitBreakerOpensThenHalfOpens) {
  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(503); });
  WebhookConfig c = OneReceiver();
  c.backoff.jitter = 0;
  c.circuit_breaker = {3, kMsPerMinute};
  auto d = Make(c);
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:a"), false), 1u);
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:b"), false), 1u);
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:c"), false), 1u);
  EXPECT_EQ(Drain(*d), 3u);  // three failures in a row
  EXPECT_EQ(StatsOf(*d, "dno").circuit, CircuitState::kOpen);
  EXPECT_EQ(StatsOf(*d, "dno").circuit_opened, 1u);

  clock_.Advance(30 * kMsPerSecond);  // backoff over, circuit still open
  EXPECT_EQ(d->Pump(), 0u);
  EXPECT_EQ(receiver_.count(), 3u);

  clock_.Advance(30 * kMsPerSecond);  // open_for passed: one trial
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(d->Pump(), 0u);  // the trial failed: open again
  EXPECT_EQ(StatsOf(*d, "dno").circuit, CircuitState::kOpen);
  EXPECT_EQ(StatsOf(*d, "dno").circuit_opened, 2u);
  EXPECT_EQ(receiver_.count(), 4u);

  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(200); });
  clock_.Advance(kMsPerMinute);
  EXPECT_EQ(d->Pump(), 1u);  // the trial succeeds: closed
  EXPECT_EQ(StatsOf(*d, "dno").circuit, CircuitState::kClosed);
  EXPECT_EQ(Drain(*d), 2u);
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 3u);
}

TEST_F(DispatcherTest, PendingNotificationsSurviveARestart) {
  const uint16_t port = receiver_.port();
  receiver_.Stop();
  std::vector<std::string> keys;
  {
    auto d = Make(OneReceiver());
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:" + std::to_string(i)), false), 1u);
    }
    EXPECT_EQ(Drain(*d), 3u);  // all fail once
    for (const std::string& f : testing::FilesIn(spool_dir_, ".ntf")) {
      keys.push_back(f.substr(0, f.size() - 4));
    }
    ASSERT_EQ(keys.size(), 3u);
  }  // destroyed with three pending

  ASSERT_TRUE(receiver_.Start(port));
  auto d = Make(OneReceiver());
  EXPECT_EQ(d->pending(), 3u);
  clock_.Advance(kMsPerMinute);
  EXPECT_EQ(Drain(*d), 3u);
  std::vector<std::string> got;
  for (const auto& r : receiver_.requests()) {
    got.push_back(r.Header("idempotency-key"));
    EXPECT_EQ(r.Header("x-smetsmon-attempt"), "2");  // the attempt count survived too
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, keys);
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
}

TEST_F(DispatcherTest, OldNotificationsAreDeadLetteredWithALogLine) {
  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(500); });
  WebhookConfig c = OneReceiver();
  c.max_age_ms = kMsPerHour;
  auto d = Make(c);
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:old"), false), 1u);
  EXPECT_EQ(d->Pump(), 1u);
  clock_.Advance(30 * kMsPerMinute);
  EXPECT_EQ(StatsOf(*d, "dno").oldest_pending_age_seconds, 1800.0);
  clock_.Advance(30 * kMsPerMinute);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(d->Pump(), 0u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("level=warn"));
  EXPECT_THAT(log, HasSubstr("receiver=dno"));
  EXPECT_THAT(log, HasSubstr("reason=max_age"));
  const ReceiverStats s = StatsOf(*d, "dno");
  EXPECT_EQ(s.dead_lettered, 1u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(s.oldest_pending_age_seconds, 0.0);
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
  EXPECT_EQ(testing::FilesIn(spool_dir_ + "/dead", ".ntf").size(), 1u);
  EXPECT_EQ(receiver_.count(), 1u);
}

TEST_F(DispatcherTest, CommsIncidentOnlyReachesReceiversThatListIt) {
  TestReceiver other;
  ASSERT_TRUE(other.Start());
  ReceiverConfig asked = testing::MakeReceiver("asked", other.Url());
  asked.kinds = {rules::FindingKind::kCommsIncident};
  auto d = Make(Config({testing::MakeReceiver("dno", receiver_.Url()), asked}));
  EXPECT_EQ(*d->Enqueue(testing::CommsIncident("north"), false), 1u);
  Drain(*d);
  EXPECT_EQ(receiver_.count(), 0u);
  ASSERT_EQ(other.count(), 1u);
  EXPECT_THAT(other.requests()[0].body, HasSubstr("smetsmon_comms_incident"));
}

TEST_F(DispatcherTest, UnmatchedFindingsSendNothing) {
  WebhookConfig c = OneReceiver();
  c.receivers[0].areas = {areas_.ByDistributorId(16)};
  c.receivers[0].min_severity = rules::Severity::kWarning;
  auto d = Make(c);
  EXPECT_EQ(*d->Enqueue(Outage("elsewhere", rules::Severity::kCritical, 10), false), 0u);
  EXPECT_EQ(*d->Enqueue(Outage("too-minor", rules::Severity::kInfo, 16), false), 0u);
  EXPECT_EQ(*d->Enqueue(Outage("ours", rules::Severity::kWarning, 16), false), 1u);
  Drain(*d);
  EXPECT_EQ(receiver_.count(), 1u);
}

TEST_F(DispatcherTest, DeliveryThreadSendsWithoutPump) {
  auto d = Make(OneReceiver());
  d->Start();
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:threaded"), false), 1u);
  EXPECT_TRUE(receiver_.WaitForRequests(1, std::chrono::seconds(20)));
  d->Stop();
  EXPECT_EQ(FindingIdOf(receiver_.requests()[0]), "power_outage:area=Eastern:threaded");
}

TEST_F(DispatcherTest, HostNamesAreResolved) {
  // "localhost" may resolve to ::1 first; the receiver listens on 127.0.0.1 only, so this also
  // checks that every resolved address is tried.
  auto d = Make(Config({testing::MakeReceiver(
      "dno", "http://localhost:" + std::to_string(receiver_.port()) + "/hook")}));
  ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:dns"), false), 1u);
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(StatsOf(*d, "dno").delivered, 1u);
  ASSERT_EQ(receiver_.count(), 1u);
  EXPECT_EQ(receiver_.requests()[0].Header("host"),
            "localhost:" + std::to_string(receiver_.port()));
}

TEST_F(DispatcherTest, OnTheDeliveryThreadAHangingReceiverDoesNotDelayAnother) {
  TestReceiver hanging([](const testing::ReceivedRequest&) { return Reply::Hang(); });
  ASSERT_TRUE(hanging.Start());
  ReceiverConfig slow = testing::MakeReceiver("slow", hanging.Url());
  slow.request_timeout_ms = 60'000;  // still waiting when the test ends
  auto d = Make(Config({slow, testing::MakeReceiver("dno", receiver_.Url())}));
  d->Start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:" + std::to_string(i)), false), 2u);
  }
  EXPECT_TRUE(receiver_.WaitForRequests(3, std::chrono::seconds(20)));
  EXPECT_EQ(hanging.count(), 1u);  // its first request is still unanswered
  EXPECT_EQ(StatsOf(*d, "slow").retried, 0u);
  d->Stop();  // abandons the hanging request: it stays in the spool
  EXPECT_EQ(StatsOf(*d, "slow").queue_depth, 3u);
}

// The key says what the notification is (receiver, finding, status, severity, and n: which
// firing notification of the finding to that receiver it is), never when it was made, so a
// replay of the same events gives a receiver the same key for the same news.
TEST_F(DispatcherTest, KeysAreDerivedFromTheNotificationNotTheClock) {
  rules::Finding f = Outage("power_outage:area=Eastern:key", rules::Severity::kWarning);
  for (int run = 0; run < 2; ++run) {
    spool_dir_ = testing::FreshDir("spool-key-" + std::to_string(run));  // nothing carried over
    auto d = Make(OneReceiver());
    f.end.reset();
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    ASSERT_EQ(d->Pump(), 1u);
    clock_.Advance(3 * kMsPerMinute + 7);
    f.end = EventTime{f.start.ms + 600'000};
    ASSERT_EQ(*d->Enqueue(f, true), 1u);
    ASSERT_EQ(d->Pump(), 1u);
    clock_.Advance(5 * kMsPerHour + 11);  // the second instance runs at other times
  }
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_NE(reqs[0].Header("x-smetsmon-timestamp"), reqs[2].Header("x-smetsmon-timestamp"));
  EXPECT_EQ(reqs[0].Header("idempotency-key"), reqs[2].Header("idempotency-key"));  // firing
  EXPECT_EQ(reqs[1].Header("idempotency-key"), reqs[3].Header("idempotency-key"));  // resolved
  EXPECT_EQ(reqs[0].Header("idempotency-key"),
            IdempotencyKey("dno", f.id, false, rules::Severity::kWarning, 1));
  EXPECT_EQ(reqs[1].Header("idempotency-key"),
            IdempotencyKey("dno", f.id, true, rules::Severity::kWarning, 0));
  // Each part of what the notification is changes the key.
  const std::set<std::string> keys = {
      IdempotencyKey("dno", f.id, false, rules::Severity::kWarning, 1),
      IdempotencyKey("dno", f.id, true, rules::Severity::kWarning, 0),
      IdempotencyKey("dno", f.id, false, rules::Severity::kCritical, 1),
      IdempotencyKey("dno", f.id, false, rules::Severity::kWarning, 3),
      IdempotencyKey("other", f.id, false, rules::Severity::kWarning, 1),
      IdempotencyKey("dno", f.id + "0", false, rules::Severity::kWarning, 1)};
  EXPECT_EQ(keys.size(), 6u);
  for (const std::string& k : keys) EXPECT_EQ(k.size(), 32u);
}

// A restart (here: a new dispatcher on the same spool, as after SIGKILL: nothing is written at
// destruction) remembers what the receiver was told: the restored evaluator reporting the finding
// open again does not page again, its close is still sent, and once resolved it never fires.
TEST_F(DispatcherTest, RestartDoesNotRepeatWhatWasToldAndStillSendsTheResolved) {
  rules::Finding f = Outage("power_outage:area=Eastern:restart", rules::Severity::kCritical);
  {
    auto d = Make(OneReceiver());
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    ASSERT_EQ(d->Pump(), 1u);
  }
  EXPECT_TRUE(std::filesystem::exists(ToldStatePath()));
  clock_.Advance(10 * kMsPerMinute);
  {
    auto d = Make(OneReceiver());
    EXPECT_EQ(*d->Enqueue(f, false), 0u);  // told before the restart
    EXPECT_EQ(Drain(*d), 0u);
    EXPECT_EQ(receiver_.count(), 1u);
    f.end = EventTime{f.start.ms + 30 * kMsPerMinute};
    ASSERT_EQ(*d->Enqueue(f, true), 1u);
    ASSERT_EQ(d->Pump(), 1u);
    ASSERT_EQ(receiver_.count(), 2u);
    EXPECT_EQ(StatusOf(receiver_.requests()[1]), "resolved");
  }
  // Restarted again from a checkpoint taken before the close: the evaluator holds the finding
  // open until the re-read events close it again. Neither state is sent again.
  auto d = Make(OneReceiver());
  rules::Finding reopened = f;
  reopened.end.reset();
  EXPECT_EQ(*d->Enqueue(reopened, false), 0u);
  EXPECT_EQ(*d->Enqueue(f, true), 0u);
  EXPECT_EQ(Drain(*d), 0u);
  EXPECT_EQ(receiver_.count(), 2u);
  EXPECT_EQ(d->refires_ignored(), 1u);
}

// Before, a firing state after the resolved one fired again. A finding id names one episode
// (its start is part of it): a firing state after the resolved one can only be a restored
// evaluator catching up, so it is ignored.
TEST_F(DispatcherTest, AResolvedFindingNeverFiresAgain) {
  auto d = Make(OneReceiver());
  rules::Finding f = Outage("power_outage:area=Eastern:once", rules::Severity::kWarning);
  ASSERT_EQ(*d->Enqueue(f, false), 1u);
  ASSERT_EQ(d->Pump(), 1u);
  rules::Finding closed = f;
  closed.end = EventTime{f.start.ms + 60'000};
  ASSERT_EQ(*d->Enqueue(closed, true), 1u);
  ASSERT_EQ(d->Pump(), 1u);
  EXPECT_EQ(*d->Enqueue(f, false), 0u);
  f.severity = rules::Severity::kCritical;  // not even with another severity
  EXPECT_EQ(*d->Enqueue(f, false), 0u);
  EXPECT_EQ(Drain(*d), 0u);
  EXPECT_EQ(receiver_.count(), 2u);
  EXPECT_EQ(d->refires_ignored(), 2u);
  EXPECT_EQ(StatsOf(*d, "dno").refires_ignored, 2u);  // it matches the finding: counted for it
}

// A crash after a notification was spooled but before told.state was rewritten: the restart
// reloads the notification, and the evaluator's repeat of the same state reuses it (same key,
// one file) instead of queueing a second copy or deleting the file it had just written.
TEST_F(DispatcherTest, ACrashBeforeToldStateWasWrittenSendsTheNotificationOnce) {
  const uint16_t port = receiver_.port();
  receiver_.Stop();
  const rules::Finding f = Outage("power_outage:area=Eastern:crash", rules::Severity::kWarning);
  {
    auto d = Make(OneReceiver());
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    EXPECT_EQ(d->Pump(), 1u);  // fails: the receiver is down
  }
  ASSERT_TRUE(std::filesystem::remove(ToldStatePath()));
  auto d = Make(OneReceiver());
  EXPECT_EQ(d->pending(), 1u);
  EXPECT_EQ(*d->Enqueue(f, false), 0u);
  EXPECT_EQ(d->pending(), 1u);
  const std::string key = IdempotencyKey("dno", f.id, false, f.severity, 1);
  EXPECT_EQ(testing::FilesIn(spool_dir_, ".ntf"), std::vector<std::string>{key + ".ntf"});
  ASSERT_TRUE(receiver_.Start(port));
  clock_.Advance(kMsPerMinute);
  EXPECT_EQ(Drain(*d), 1u);
  ASSERT_EQ(receiver_.count(), 1u);
  EXPECT_EQ(receiver_.requests()[0].Header("idempotency-key"), key);
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
}

// warning (in flight) -> critical -> warning again before the first answer: each change is a
// notification of its own with a key of its own (n = 1, 2, 3). The critical one, not sent yet, is
// superseded by the second warning; the one in flight is dropped unless its attempt succeeds.
// After a restart only the newest file of the finding stands (the one in flight was abandoned
// with its file): the receiver gets the second warning once, and nothing is re-sent after it.
TEST_F(DispatcherTest, BackToAStateStillInFlightIsANewNotification) {
  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Hang(); });
  WebhookConfig c = OneReceiver();
  c.receivers[0].request_timeout_ms = 60'000;  // still waiting when the dispatcher stops
  rules::Finding f = Outage("power_outage:area=Eastern:flap", rules::Severity::kWarning);
  const std::string first_key = IdempotencyKey("dno", f.id, false, rules::Severity::kWarning, 1);
  const std::string third_key = IdempotencyKey("dno", f.id, false, rules::Severity::kWarning, 3);
  {
    auto d = Make(c);
    d->Start();
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    ASSERT_TRUE(receiver_.WaitForRequests(1, std::chrono::seconds(20)));  // now in flight
    f.severity = rules::Severity::kCritical;
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    f.severity = rules::Severity::kWarning;
    EXPECT_EQ(*d->Enqueue(f, false), 1u);  // news again: a new key
    EXPECT_EQ(d->pending(), 2u);           // the one in flight, and the latest
    EXPECT_EQ(StatsOf(*d, "dno").superseded, 2u);
    EXPECT_EQ(testing::FilesIn(spool_dir_, ".ntf"),
              (std::vector<std::string>{std::min(first_key, third_key) + ".ntf",
                                        std::max(first_key, third_key) + ".ntf"}));
    d->Stop();  // abandons the request: it stays in the spool
  }
  receiver_.set_handler({});
  auto d = Make(c);
  EXPECT_EQ(d->pending(), 1u);  // the older file of the finding is deleted
  EXPECT_EQ(StatsOf(*d, "dno").superseded, 1u);
  EXPECT_EQ(testing::FilesIn(spool_dir_, ".ntf"), std::vector<std::string>{third_key + ".ntf"});
  EXPECT_EQ(*d->Enqueue(f, false), 0u);  // told: warning, n = 3
  clock_.Advance(kMsPerMinute);
  EXPECT_EQ(Drain(*d), 1u);
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("idempotency-key"), first_key);
  EXPECT_EQ(reqs[1].Header("idempotency-key"), third_key);
  EXPECT_EQ(SeverityOf(reqs[1]), "warning");
  EXPECT_TRUE(testing::FilesIn(spool_dir_, ".ntf").empty());
}

// A storm or DNO flood rate moving around its threshold flips the severity. Each flip is news:
// a receiver that drops keys it has seen (as the contract tells it to) must not drop a return to
// an earlier severity. The keys are those of (receiver, id, firing, severity, n = 1..4).
TEST_F(DispatcherTest, SeverityFlipsGetADistinctKeyEachTime) {
  using rules::Severity;
  auto d = Make(OneReceiver());
  rules::Finding f = Outage("storm:area=Eastern:flip", Severity::kWarning);
  const std::vector<Severity> path = {Severity::kWarning, Severity::kCritical, Severity::kWarning,
                                      Severity::kCritical};
  Walk(*d, f, path);
  const auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 4u);
  const std::vector<std::string> keys = KeysOf(reqs);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 4u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(SeverityOf(reqs[i]), rules::SeverityName(path[i])) << i;
    EXPECT_EQ(keys[i], IdempotencyKey("dno", f.id, false, path[i], static_cast<uint32_t>(i + 1)))
        << i;
  }
  // The resolved has a key of its own too, unlike any firing one.
  f.end = EventTime{f.start.ms + kMsPerHour};
  ASSERT_EQ(*d->Enqueue(f, true), 1u);
  ASSERT_EQ(d->Pump(), 1u);
  const std::string resolved_key = receiver_.requests().back().Header("idempotency-key");
  EXPECT_EQ(resolved_key, IdempotencyKey("dno", f.id, true, Severity::kCritical, 0));
  EXPECT_EQ(std::count(keys.begin(), keys.end(), resolved_key), 0);
}

// Determinism: the same flips on a fresh dispatcher with a fresh spool (nothing carried over), at
// other processing times, give the same four keys.
TEST_F(DispatcherTest, TheSameFlipsFromAFreshStartGiveTheSameKeys) {
  using rules::Severity;
  const std::vector<Severity> path = {Severity::kWarning, Severity::kCritical, Severity::kWarning,
                                      Severity::kCritical};
  std::vector<std::vector<std::string>> runs;
  for (int run = 0; run < 2; ++run) {
    spool_dir_ = testing::FreshDir("spool-flips-" + std::to_string(run));
    TestReceiver r;
    ASSERT_TRUE(r.Start());
    auto d = Make(Config({testing::MakeReceiver("dno", r.Url())}));
    rules::Finding f = Outage("storm:area=Eastern:flip", Severity::kWarning);
    Walk(*d, f, path);
    runs.push_back(KeysOf(r.requests()));
    clock_.Advance(7 * kMsPerHour + 13);  // the second run happens at other times
  }
  ASSERT_EQ(runs[0].size(), 4u);
  EXPECT_EQ(std::set<std::string>(runs[0].begin(), runs[0].end()).size(), 4u);
  EXPECT_EQ(runs[1], runs[0]);
}

// told.state keeps n per finding per receiver: after a restart (a new dispatcher on the same
// spool, as after SIGKILL) the unchanged state is not sent again and the next change continues
// the numbering instead of repeating the first notification's key.
TEST_F(DispatcherTest, ARestartContinuesTheNumbering) {
  using rules::Severity;
  rules::Finding f = Outage("dno_flood:dno=UKPN:restart", Severity::kWarning);
  {
    auto d = Make(OneReceiver());
    Walk(*d, f, {Severity::kWarning, Severity::kCritical});
  }
  auto d = Make(OneReceiver());
  EXPECT_EQ(*d->Enqueue(f, false), 0u);  // critical, n = 2: told before the restart
  Walk(*d, f, {Severity::kWarning, Severity::kCritical});
  const std::vector<std::string> keys = KeysOf(receiver_.requests());
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 4u);
  EXPECT_EQ(keys[2], IdempotencyKey("dno", f.id, false, Severity::kWarning, 3));
  EXPECT_EQ(keys[3], IdempotencyKey("dno", f.id, false, Severity::kCritical, 4));
}

// A crash after a severity change was spooled but before told.state was rewritten: told.state
// says n = 1, the spool holds n = 2. The restarted dispatcher takes n from the spool, so the
// repeat of the state is not sent twice and the next change is n = 3.
TEST_F(DispatcherTest, ANumberSpooledAfterToldStateWasWrittenIsNotReused) {
  using rules::Severity;
  const uint16_t port = receiver_.port();
  rules::Finding f = Outage("storm:area=Eastern:crash-n", Severity::kWarning);
  std::string told_after_first;
  {
    auto d = Make(OneReceiver());
    Walk(*d, f, {Severity::kWarning});
    std::ifstream in(ToldStatePath(), std::ios::binary);
    told_after_first.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    receiver_.Stop();
    f.severity = Severity::kCritical;
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    EXPECT_EQ(d->Pump(), 1u);  // fails: the receiver is down
  }
  ASSERT_NE(told_after_first.find("dno=1"), std::string::npos) << told_after_first;
  smetsmon::testing::WriteFile(ToldStatePath(), told_after_first);  // as if never rewritten
  ASSERT_TRUE(receiver_.Start(port));
  auto d = Make(OneReceiver());
  EXPECT_EQ(d->pending(), 1u);
  EXPECT_EQ(*d->Enqueue(f, false), 0u);  // critical, n = 2: pending already
  clock_.Advance(kMsPerMinute);
  EXPECT_EQ(Drain(*d), 1u);
  Walk(*d, f, {Severity::kWarning});
  const std::vector<std::string> keys = KeysOf(receiver_.requests());
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[1], IdempotencyKey("dno", f.id, false, Severity::kCritical, 2));
  EXPECT_EQ(keys[2], IdempotencyKey("dno", f.id, false, Severity::kWarning, 3));
}

// After a crash the daemon restores its last checkpoint and re-reads the events since; told.state
// is the latest. The restored evaluator reports the checkpoint's severity (warning) while the
// receiver was last told critical: the re-derived changes are sent again, with new keys, and
// the last notification carries the current severity (dispatcher.h, "After a crash").
TEST_F(DispatcherTest, AfterACrashChangesSinceTheCheckpointAreSentAgainWithNewKeys) {
  using rules::Severity;
  rules::Finding f = Outage("storm:area=Eastern:replay", Severity::kWarning);
  {
    auto d = Make(OneReceiver());
    Walk(*d, f, {Severity::kWarning, Severity::kCritical});  // checkpoint between the two
  }
  auto d = Make(OneReceiver());
  Walk(*d, f, {Severity::kWarning, Severity::kCritical});  // re-read from the checkpoint
  EXPECT_EQ(*d->Enqueue(f, false), 0u);
  const auto reqs = receiver_.requests();
  const std::vector<std::string> keys = KeysOf(reqs);
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 4u);
  EXPECT_EQ(SeverityOf(reqs[2]), "warning");
  EXPECT_EQ(SeverityOf(reqs[3]), "critical");
}

// told.state names receivers: one no longer configured is forgotten; a new one has been told
// nothing, so it hears of the open finding (and then of its end), while the one told before the
// restart is not told again.
TEST_F(DispatcherTest, ToldStateFollowsReceiversByName) {
  TestReceiver b, c;
  ASSERT_TRUE(b.Start());
  ASSERT_TRUE(c.Start());
  rules::Finding f = Outage("power_outage:area=Eastern:names");
  {
    auto d = Make(
        Config({testing::MakeReceiver("a", receiver_.Url()), testing::MakeReceiver("b", b.Url())}));
    ASSERT_EQ(*d->Enqueue(f, false), 2u);
    Drain(*d);
  }
  auto d = Make(Config({testing::MakeReceiver("c", c.Url()), testing::MakeReceiver("b", b.Url())}));
  EXPECT_EQ(*d->Enqueue(f, false), 1u);  // to c only
  EXPECT_EQ(*d->Enqueue(f, false), 0u);
  Drain(*d);
  ASSERT_EQ(c.count(), 1u);
  EXPECT_EQ(StatusOf(c.requests()[0]), "firing");
  f.end = EventTime{f.start.ms + 60'000};
  EXPECT_EQ(*d->Enqueue(f, true), 2u);  // to b and c
  Drain(*d);
  EXPECT_EQ(receiver_.count(), 1u);  // a: only the firing, before the restart
  ASSERT_EQ(b.count(), 2u);
  EXPECT_EQ(StatusOf(b.requests()[1]), "resolved");
  ASSERT_EQ(c.count(), 2u);
  EXPECT_EQ(StatusOf(c.requests()[1]), "resolved");
}

class CorruptToldStateTest : public DispatcherTest,
                             public ::testing::WithParamInterface<std::string> {};

// A told.state that cannot be trusted is logged and set aside, and the dispatcher starts as if
// nothing had been told: the finding it said was firing is sent again.
TEST_P(CorruptToldStateTest, IsSetAsideAndTheDispatcherStartsEmpty) {
  const rules::Finding f = Outage("power_outage:area=Eastern:corrupt");
  {
    auto d = Make(OneReceiver());
    ASSERT_EQ(*d->Enqueue(f, false), 1u);
    ASSERT_EQ(d->Pump(), 1u);
  }
  std::string text;
  {
    std::ifstream in(ToldStatePath(), std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(text.find(f.id), std::string::npos);
  if (GetParam() == "truncated") {
    text.resize(text.size() - 10);
  } else if (GetParam() == "flipped") {
    text[text.find("critical")] = 'C';
  } else {
    text = "\x01\x02 not a state file";
  }
  smetsmon::testing::WriteFile(ToldStatePath(), text);

  ::testing::internal::CaptureStderr();
  auto d = Make(OneReceiver());
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(log, HasSubstr("level=warn"));
  EXPECT_THAT(log, HasSubstr("webhook told state unreadable"));
  EXPECT_TRUE(std::filesystem::exists(ToldStatePath() + ".corrupt"));
  EXPECT_EQ(*d->Enqueue(f, false), 1u);  // nothing known to have been told
  EXPECT_EQ(d->Pump(), 1u);
  EXPECT_EQ(receiver_.count(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, CorruptToldStateTest,
                         ::testing::Values("truncated", "flipped", "garbage"));

TEST_F(DispatcherTest, SpoolFileForAnUnknownReceiverIsSetAside) {
  {
    auto d = Make(Config({testing::MakeReceiver("gone", "http://127.0.0.1:1/")}));
    ASSERT_EQ(*d->Enqueue(Outage("power_outage:area=Eastern:x"), false), 1u);
  }
  ::testing::internal::CaptureStderr();
  auto d = Make(OneReceiver());
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("receiver=gone"));
  EXPECT_EQ(d->pending(), 0u);
  EXPECT_EQ(testing::FilesIn(spool_dir_ + "/dead", ".ntf").size(), 1u);
}

}  // namespace
}  // namespace smetsmon::webhook
