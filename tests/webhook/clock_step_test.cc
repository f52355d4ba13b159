// The dispatcher under a stepped wall clock: every interval (backoff, max age, circuit breaker) is
// measured on the monotonic clock, so a wall clock stepped forward by hours dead-letters nothing
// early and one stepped back keeps nothing waiting; a notification reloaded from the spool after
// a restart has its age bounded both ways (dispatcher.h).
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "webhook/dispatcher.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using testing::Reply;
using testing::TestReceiver;

constexpr int64_t kStart = 1'709'287'260'000;  // 2024-03-01T10:01:00Z
constexpr int64_t kMaxAge = kMsPerHour;
constexpr int64_t kBackoff = 10 * kMsPerSecond;  // every delay, no jitter
constexpr int64_t kStep = 6 * kMsPerHour;        // far beyond max age

class ClockStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spool_dir_ = testing::FreshDir("spool");
    ASSERT_TRUE(receiver_.Start());
    Fail();
  }
  void Fail() {
    receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(503); });
  }
  void Accept() {
    receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(200); });
  }

  WebhookConfig Config() {
    WebhookConfig c;
    c.receivers = {testing::MakeReceiver("dno", receiver_.Url())};
    c.spool_dir = spool_dir_;
    c.external_url = "http://smetsmon.test:9477";
    c.max_age_ms = kMaxAge;
    c.backoff = {kBackoff, kBackoff, 2.0, 0.0};
    c.circuit_breaker = {1000, kMsPerMinute};  // out of the way unless a test sets it
    return c;
  }
  std::unique_ptr<Dispatcher> Make(const WebhookConfig& c) {
    auto d = Dispatcher::Create(c, areas_, clock_);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }
  void EnqueueOne(Dispatcher& d) {
    ASSERT_EQ(*d.Enqueue(testing::AreaFinding(areas_, "power_outage:area=Eastern:x", 10,
                                              rules::Severity::kCritical),
                         false),
              1u);
  }
  static ReceiverStats Dno(const Dispatcher& d) { return d.Stats().at(0); }

  catalog::AreaTable areas_ = testing::LoadAreas();
  ManualClock clock_{ProcessingTime{kStart}};
  std::string spool_dir_;
  TestReceiver receiver_;
};

TEST_F(ClockStepTest, WallStepForwardDeadLettersNothingEarly) {
  auto d = Make(Config());
  EnqueueOne(*d);
  EXPECT_EQ(d->Pump(), 1u);  // fails: retried after kBackoff
  clock_.StepWall(kStep);
  clock_.Advance(kBackoff);
  EXPECT_EQ(d->Pump(), 1u);  // retried, not dead-lettered
  EXPECT_EQ(Dno(*d).dead_lettered, 0u);
  EXPECT_EQ(Dno(*d).queue_depth, 1u);
  EXPECT_EQ(Dno(*d).oldest_pending_age_seconds, static_cast<double>(kBackoff) / 1000);
  // Its real age reaches max age: dead-lettered then, not later.
  clock_.Advance(kMaxAge - kBackoff - 1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 0u);
  clock_.Advance(1);
  EXPECT_EQ(d->Pump(), 0u);
  EXPECT_EQ(Dno(*d).dead_lettered, 1u);
  EXPECT_EQ(Dno(*d).queue_depth, 0u);
}

TEST_F(ClockStepTest, WallStepBackKeepsNothingWaiting) {
  auto d = Make(Config());
  EnqueueOne(*d);
  EXPECT_EQ(d->Pump(), 1u);
  clock_.StepWall(-kStep);
  Accept();
  clock_.Advance(kBackoff - 1);
  EXPECT_EQ(d->Pump(), 0u);  // its backoff is not over
  clock_.Advance(1);
  EXPECT_EQ(d->Pump(), 1u);  // over after kBackoff of real time, not kStep more
  EXPECT_EQ(Dno(*d).delivered, 1u);
  EXPECT_EQ(receiver_.count(), 2u);
}

TEST_F(ClockStepTest, MaxAgeStillEndsAWaitAfterAStepBack) {
  auto d = Make(Config());
  EnqueueOne(*d);
  EXPECT_EQ(d->Pump(), 1u);
  clock_.StepWall(-kStep);
  clock_.Advance(kMaxAge);
  EXPECT_EQ(d->Pump(), 0u);
  EXPECT_EQ(Dno(*d).dead_lettered, 1u);
  EXPECT_EQ(d->pending(), 0u);
}

TEST_F(ClockStepTest, CircuitOpenTimeIsMonotonic) {
  WebhookConfig c = Config();
  c.circuit_breaker = {1, kMsPerMinute};
  c.backoff = {1, 1, 2.0, 0.0};  // the breaker alone decides when the next request goes
  for (const int64_t step : {kStep, -kStep}) {
    SCOPED_TRACE(step);
    spool_dir_ = testing::FreshDir("spool");
    c.spool_dir = spool_dir_;
    auto d = Make(c);
    EnqueueOne(*d);
    EXPECT_EQ(d->Pump(), 1u);
    EXPECT_EQ(Dno(*d).circuit, CircuitState::kOpen);
    clock_.StepWall(step);
    clock_.Advance(kMsPerMinute - 1);
    EXPECT_EQ(d->Pump(), 0u);  // a step forward does not close it early
    EXPECT_EQ(Dno(*d).circuit, CircuitState::kOpen);
    clock_.Advance(1);
    EXPECT_EQ(d->Pump(), 1u);  // a step back does not hold it open: the trial goes
  }
}

TEST_F(ClockStepTest, ReloadedAfterAStepForwardGetsAGraceNotADeadLetter) {
  {
    auto d = Make(Config());
    EnqueueOne(*d);
    EXPECT_EQ(d->Pump(), 1u);
  }
  clock_.StepWall(kStep);  // the wall clock says it is kStep old: far past max age
  auto d = Make(Config());
  ASSERT_EQ(d->pending(), 1u);
  clock_.Advance(kBackoff);
  EXPECT_EQ(d->Pump(), 1u);  // sent again, not dead-lettered at load
  EXPECT_EQ(Dno(*d).dead_lettered, 0u);
  // Its age was credited up to max age - the grace: the grace ends it.
  clock_.Advance(kReloadGraceMs - kBackoff - 1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 0u);
  clock_.Advance(1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 1u);
  EXPECT_EQ(d->pending(), 0u);
}

TEST_F(ClockStepTest, ReloadedAfterAStepBackRestartsItsAgeAndWaitsAtMostTheBackoff) {
  {
    auto d = Make(Config());
    EnqueueOne(*d);
    EXPECT_EQ(d->Pump(), 1u);
  }
  clock_.StepWall(-kStep);  // created and due kStep "in the future"
  auto d = Make(Config());
  ASSERT_EQ(d->pending(), 1u);
  clock_.Advance(kBackoff);  // the longest backoff
  EXPECT_EQ(d->Pump(), 1u);
  // Its age restarted at load (never negative): max age from there.
  clock_.Advance(kMaxAge - kBackoff - 1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 0u);
  clock_.Advance(1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 1u);
}

TEST_F(ClockStepTest, ReloadedAfterADowntimeKeepsTheAgeItHad) {
  {
    auto d = Make(Config());
    EnqueueOne(*d);
    EXPECT_EQ(d->Pump(), 1u);
  }
  const int64_t downtime = kMaxAge / 2;  // both clocks move: a plausible downtime
  clock_.Advance(downtime);
  auto d = Make(Config());
  EXPECT_EQ(Dno(*d).oldest_pending_age_seconds, static_cast<double>(downtime) / 1000);
  clock_.Advance(kMaxAge - downtime - 1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 0u);
  clock_.Advance(1);
  d->Pump();
  EXPECT_EQ(Dno(*d).dead_lettered, 1u);
}

}  // namespace
}  // namespace smetsmon::webhook
