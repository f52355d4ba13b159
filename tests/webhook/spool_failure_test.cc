// A spool that cannot be written: the notification is not silently kept in memory only; the
// failure is counted per receiver (smetsmon_webhook_spool_write_errors_total) and the write is
// tried again at the next failed attempt, so the notification is durable once the disk is back.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "webhook/dispatcher.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

constexpr int64_t kStart = 1'709'287'260'000;  // 2024-03-01T10:01:00Z

ReceiverStats StatsOf(const Dispatcher& d, const std::string& name) {
  for (const ReceiverStats& s : d.Stats()) {
    if (s.receiver == name) return s;
  }
  ADD_FAILURE() << "no receiver " << name;
  return {};
}

TEST(SpoolFailureTest, AFailedSpoolWriteIsCountedAndWrittenAgainAtTheNextAttempt) {
  namespace fs = std::filesystem;
  const std::string spool_dir = testing::FreshDir("spool");
  testing::TestReceiver receiver;
  ASSERT_TRUE(receiver.Start());
  receiver.set_handler([](const testing::ReceivedRequest&) { return testing::Reply::Status(503); });
  const catalog::AreaTable areas = testing::LoadAreas();
  ManualClock clock{ProcessingTime{kStart}};
  WebhookConfig c;
  c.receivers = {testing::MakeReceiver("dno", receiver.Url())};
  c.spool_dir = spool_dir;
  auto d = Dispatcher::Create(c, areas, clock);
  ASSERT_TRUE(d.ok()) << d.status();

  // The spool directory goes away under the daemon and a file takes its place (a write fails
  // even as root).
  const std::string aside = spool_dir + ".aside";
  fs::remove_all(aside);
  fs::rename(spool_dir, aside);
  smetsmon::testing::WriteFile(spool_dir, "not a directory");
  const rules::Finding f =
      testing::AreaFinding(areas, "power_outage:area=Eastern:1", 10, rules::Severity::kCritical);
  EXPECT_FALSE((*d)->Enqueue(f, /*resolved=*/false).ok());
  EXPECT_EQ(StatsOf(**d, "dno").spool_write_errors, 1u);
  EXPECT_EQ(StatsOf(**d, "dno").queue_depth, 1u);  // still queued, to be delivered

  // The attempt fails (503): the write is tried again and fails again, counted again.
  EXPECT_EQ((*d)->Pump(), 1u);
  EXPECT_EQ(StatsOf(**d, "dno").spool_write_errors, 2u);

  // The disk is back: the next failed attempt writes the spool file.
  fs::remove(spool_dir);
  fs::rename(aside, spool_dir);
  clock.Advance(kMsPerHour);  // past any backoff
  EXPECT_EQ((*d)->Pump(), 1u);
  EXPECT_EQ(StatsOf(**d, "dno").spool_write_errors, 2u);
  EXPECT_EQ(testing::FilesIn(spool_dir, ".ntf").size(), 1u);
}

}  // namespace
}  // namespace smetsmon::webhook
