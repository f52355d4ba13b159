#include "webhook/dispatcher.h"

#include <map>
#include <set>

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
