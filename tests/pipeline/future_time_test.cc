// The future-time check under a stepped wall clock: an event is future_time only when it is more
// than max_future ahead of both the wall clock and the stream's own time (carried on the monotonic
// clock); what only the wall clock would reject is accepted and counted as a disagreement.
#include "pipeline/future_time.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "pipeline/pipeline.h"
#include "testing/pipeline.h"

namespace smetsmon::pipeline {
namespace {

constexpr int64_t kT0 = 1687780800000;  // 2023-06-26T12:00:00Z
constexpr int64_t kMaxFuture = kMsPerHour;
constexpr int64_t kStepBack = 2 * kMsPerHour;

TEST(FutureTimeCheckTest, WithoutAStreamTimeTheWallClockDecides) {
  FutureTimeCheck c(kMaxFuture);
  c.BeginBatch(kT0, 0);
  EXPECT_EQ(c.reference_ms(), kT0);
  EXPECT_TRUE(c.Accept(kT0 + kMaxFuture));
  EXPECT_FALSE(c.Accept(kT0 + kMaxFuture + 1));
  c.EndBatch();
  EXPECT_EQ(c.disagreements(), 0u);
}

TEST(FutureTimeCheckTest, AWallClockSteppedBackIsOutvotedByTheStream) {
  FutureTimeCheck c(kMaxFuture);
  c.BeginBatch(kT0, 0);
  ASSERT_TRUE(c.Accept(kT0 - 1000));  // live traffic agrees with the wall clock
  c.EndBatch();
  // A minute later (monotonic) the wall clock reads two hours earlier; events keep real times.
  const int64_t mono = kMsPerMinute;
  const int64_t wall = kT0 + mono - kStepBack;
  c.BeginBatch(wall, mono);
  EXPECT_EQ(c.StreamMs(mono), kT0 - 1000 + mono);
  EXPECT_EQ(c.reference_ms(), kT0 - 1000 + mono);
  EXPECT_TRUE(c.Accept(kT0 + mono));                // ahead of the wall's limit, not the stream's
  EXPECT_TRUE(c.Accept(wall + 1000));               // agrees with both
  EXPECT_FALSE(c.Accept(kT0 + mono + kMaxFuture));  // ahead of both
  c.EndBatch();
  EXPECT_EQ(c.disagreements(), 1u);
  // Events that agree only with the stream never move it: it goes on in real time.
  EXPECT_EQ(c.StreamMs(2 * mono), kT0 - 1000 + 2 * mono);
}

TEST(FutureTimeCheckTest, EventsJustUnderTheLimitCannotRatchetTheStreamAhead) {
  FutureTimeCheck c(kMaxFuture);
  for (int64_t i = 0; i < 10; ++i) {
    const int64_t mono = i * 1000;
    c.BeginBatch(kT0 + mono, mono);
    EXPECT_LE(c.reference_ms(), kT0 + mono);  // never ahead of the (steady) wall clock
    EXPECT_TRUE(c.Accept(c.limit_ms()));
    c.EndBatch();
  }
  EXPECT_EQ(c.disagreements(), 0u);
  EXPECT_EQ(c.StreamMs(9000), kT0 + 9000);  // taken at most at the wall clock's reading
}

TEST(FutureTimeCheckTest, AWallClockSteppedForwardChangesNothing) {
  FutureTimeCheck c(kMaxFuture);
  c.BeginBatch(kT0, 0);
  ASSERT_TRUE(c.Accept(kT0));
  c.EndBatch();
  c.BeginBatch(kT0 + 1000 + kStepBack, 1000);
  EXPECT_EQ(c.reference_ms(), kT0 + 1000 + kStepBack);
  EXPECT_TRUE(c.Accept(kT0 + 1000));
  c.EndBatch();
  EXPECT_EQ(c.disagreements(), 0u);
}

TEST(FutureTimeCheckTest, ARestoredStreamTimeSeedsItLessMaxFuture) {
  FutureTimeCheck c(kMaxFuture);
  c.Seed(kT0, 0);
  // Restarted with a wall clock two hours behind, ten minutes after the checkpoint.
  const int64_t mono = 10 * kMsPerMinute;
  c.BeginBatch(kT0 + mono - kStepBack, mono);
  EXPECT_EQ(c.reference_ms(), kT0 - kMaxFuture + mono);
  EXPECT_TRUE(c.Accept(kT0 + mono));
  EXPECT_FALSE(c.Accept(kT0 + mono + 1));
  c.EndBatch();
  EXPECT_EQ(c.disagreements(), 1u);
}

TEST(FutureTimeCheckTest, DisagreementsAreLoggedOncePerInterval) {
  FutureTimeCheck c(kMaxFuture);
  c.BeginBatch(kT0, 0);
  ASSERT_TRUE(c.Accept(kT0));
  c.EndBatch();
  const auto disagree = [&](int64_t mono) {
    c.BeginBatch(kT0 + mono - kStepBack, mono);
    EXPECT_TRUE(c.Accept(kT0 + mono));
    c.EndBatch();
  };
  const auto lines = [](const std::string& log) {
    size_t n = 0;
    for (size_t at = log.find("wall clock behind"); at != std::string::npos;
         at = log.find("wall clock behind", at + 1)) {
      ++n;
    }
    return n;
  };
  ::testing::internal::CaptureStderr();
  disagree(1000);
  disagree(2000);
  disagree(1000 + FutureTimeCheck::kLogIntervalMs - 1);
  EXPECT_EQ(lines(::testing::internal::GetCapturedStderr()), 1u);
  ::testing::internal::CaptureStderr();
  disagree(1000 + FutureTimeCheck::kLogIntervalMs);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(lines(log), 1u);
  EXPECT_NE(log.find("events=3 total=4"), std::string::npos) << log;
  EXPECT_EQ(c.disagreements(), 4u);
}

std::string Alert(int device, int64_t t_ms, int serial) {
  return absl::StrFormat(
      R"({"alert_id":"a-%d-%d","device_id":"00-DB-12-34-56-78-%02X-%02X","alert_code":"8F40",)"
      R"("event_time":%d,"dcc_time":%d,"smets":2,"gsp_group":"_C"})",
      device, serial, (device >> 8) & 0xFF, device & 0xFF, t_ms, t_ms + 2000);
}

TEST(FutureTimePipelineTest, WallClockSteppedBackAcceptsLiveEventsAndCountsTheDisagreement) {
  ManualClock clock{ProcessingTime{kT0}};
  PipelineConfig config = testing::TestPipelineConfig(false);
  config.engine.workers = 2;
  auto p = testing::MakePipeline(config, clock);
  p->Submit(std::make_unique<testing::OwnedBatch>(
      clock.Now(), std::vector<std::string>{Alert(1, kT0 - 1000, 1)}));
  clock.Advance(kMsPerMinute);
  clock.StepWall(-kStepBack);
  const int64_t real = kT0 + kMsPerMinute;  // what the wall clock should read
  p->Submit(std::make_unique<testing::OwnedBatch>(
      clock.Now(), std::vector<std::string>{Alert(2, real - 500, 2), Alert(3, real, 3),
                                            Alert(4, real + 3 * kMsPerHour, 4)}));
  std::vector<std::pair<uint32_t, RejectReason>> rejected;
  p->Finish([&](std::unique_ptr<SourceBatch> b) {
    rejected.insert(rejected.end(), b->rejected.begin(), b->rejected.end());
  });
  const PipelineStats s = p->stats();
  const aggregate::CounterTotals c = p->engine().Counters();
  p->Stop();
  // The live events are accepted (and move the stream time); the one ahead of both is not.
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].first, 2u);
  EXPECT_EQ(rejected[0].second, RejectReason::kFutureTime);
  EXPECT_EQ(c.accepted, 3u);
  EXPECT_EQ(c.rejected[static_cast<size_t>(RejectReason::kFutureTime)], 1u);
  EXPECT_EQ(s.clock_disagreements, 2u);
  EXPECT_EQ(p->engine().StreamTime().ms, real);
}

}  // namespace
}  // namespace smetsmon::pipeline
