// The pending spool's caps (webhooks.spool_max_bytes, spool_max_files): a new notification that
// would take the spool over one evicts pending ones to dead/, lowest priority first, then oldest,
// each with its reason and counted per receiver (smetsmon_webhook_spool_evicted_total); when
// everything pending outranks the new one, the new one is dead-lettered instead. The dispatcher
// tracks the spool's bytes and files in memory, from what it reloads at start, so the caps hold
// across a restart. Nothing is delivered here (no Pump): the receiver only gives a URL.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "webhook/dispatcher.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using rules::Severity;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kStart = 1'709'287'260'000;  // 2024-03-01T10:01:00Z

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class SpoolCapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spool_dir_ = testing::FreshDir("spool");
    ASSERT_TRUE(receiver_.Start());
  }

  WebhookConfig Config(int64_t max_bytes, int64_t max_files) {
    WebhookConfig c;
    c.receivers = {testing::MakeReceiver("dno", receiver_.Url())};
    c.spool_dir = spool_dir_;
    c.spool_max_bytes = max_bytes;
    c.spool_max_files = max_files;
    return c;
  }

  std::unique_ptr<Dispatcher> Make(const WebhookConfig& c) {
    auto d = Dispatcher::Create(c, areas_, clock_);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  // Findings with ids of one length, so their notifications are (nearly) the same size.
  static std::string Id(int i) { return "power_outage:area=Eastern:10" + std::to_string(i); }

  // Enqueues the finding `i` firing at `severity`, one minute after the previous one (so
  // created_ms orders them), and returns how many were spooled.
  size_t Fire(Dispatcher& d, int i, Severity severity) {
    clock_.Advance(kMsPerMinute);
    auto n = d.Enqueue(testing::AreaFinding(areas_, Id(i), 10, severity), /*resolved=*/false);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : 0;
  }

  // The Idempotency-Key of the first firing notification of finding `i` to "dno".
  static std::string Key(int i, Severity severity) {
    return IdempotencyKey("dno", Id(i), false, severity, 1);
  }
  static std::vector<std::string> Files(const std::vector<std::string>& keys) {
    std::vector<std::string> out;
    for (const std::string& k : keys) out.push_back(k + ".ntf");
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> Pending() const { return testing::FilesIn(spool_dir_, ".ntf"); }
  std::vector<std::string> Dead() const { return testing::FilesIn(spool_dir_ + "/dead", ".ntf"); }
  std::string DeadFile(const std::string& key) const {
    return ReadAll(spool_dir_ + "/dead/" + key + ".ntf");
  }
  // The pending files' total size on disk.
  uint64_t PendingBytesOnDisk() const {
    uint64_t total = 0;
    for (const std::string& f : Pending()) {
      total += std::filesystem::file_size(spool_dir_ + "/" + f);
    }
    return total;
  }

  static ReceiverStats StatsOf(const Dispatcher& d) {
    const std::vector<ReceiverStats> s = d.Stats();
    EXPECT_EQ(s.size(), 1u);
    return s.empty() ? ReceiverStats{} : s[0];
  }

  // The size of one warning notification's spool file (measured in a spool of its own).
  uint64_t OneNotificationBytes() {
    const std::string real = spool_dir_;
    spool_dir_ = testing::FreshDir("spool_probe");
    auto probe = Make(Config(int64_t{1} << 30, 100'000));
    EXPECT_EQ(Fire(*probe, 0, Severity::kWarning), 1u);
    const uint64_t bytes = probe->spool_usage().bytes;
    EXPECT_EQ(bytes, PendingBytesOnDisk());
    spool_dir_ = real;
    return bytes;
  }

  catalog::AreaTable areas_ = testing::LoadAreas();
  ManualClock clock_{ProcessingTime{kStart}};
  std::string spool_dir_;
  testing::TestReceiver receiver_;
};

TEST_F(SpoolCapTest, OverTheByteCapTheOldestWarningIsDeadLetteredForACritical) {
  const uint64_t one = OneNotificationBytes();
  const int64_t cap = static_cast<int64_t>(3 * one + one / 2);  // room for three
  auto d = Make(Config(cap, 100'000));
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(Fire(*d, i, Severity::kWarning), 1u);
  EXPECT_EQ(Dead().size(), 0u);
  EXPECT_EQ(d->spool_usage().files, 3u);

  EXPECT_EQ(Fire(*d, 4, Severity::kCritical), 1u);

  // The oldest warning (1) made room: in dead/ with its reason, counted; the critical is pending.
  EXPECT_EQ(Dead(), Files({Key(1, Severity::kWarning)}));
  EXPECT_THAT(DeadFile(Key(1, Severity::kWarning)),
              HasSubstr("\nreason: evicted: spool over its byte cap (" + std::to_string(cap) +
                        " bytes)\n"));
  EXPECT_EQ(Pending(), Files({Key(2, Severity::kWarning), Key(3, Severity::kWarning),
                              Key(4, Severity::kCritical)}));
  const ReceiverStats s = StatsOf(*d);
  EXPECT_EQ(s.spool_evicted, 1u);
  EXPECT_EQ(s.queue_depth, 3u);
  EXPECT_EQ(s.dead_lettered, 0u);  // max age's count, not this one's
  // The tracked size is the files' size, within the cap.
  const SpoolUsage usage = d->spool_usage();
  EXPECT_EQ(usage.files, 3u);
  EXPECT_EQ(usage.bytes, PendingBytesOnDisk());
  EXPECT_LE(usage.bytes, static_cast<uint64_t>(cap));
}

TEST_F(SpoolCapTest, OverTheFileCapTheLowestPriorityGoesFirstThenTheOldest) {
  auto d = Make(Config(int64_t{1} << 30, 4));
  ASSERT_EQ(Fire(*d, 1, Severity::kCritical), 1u);
  ASSERT_EQ(Fire(*d, 2, Severity::kInfo), 1u);
  ASSERT_EQ(Fire(*d, 3, Severity::kWarning), 1u);
  ASSERT_EQ(Fire(*d, 4, Severity::kInfo), 1u);
  EXPECT_EQ(Dead().size(), 0u);

  // A warning: the infos go first, the oldest (2) before the newer (4).
  EXPECT_EQ(Fire(*d, 5, Severity::kWarning), 1u);
  EXPECT_EQ(Dead(), Files({Key(2, Severity::kInfo)}));
  EXPECT_EQ(Fire(*d, 6, Severity::kWarning), 1u);
  EXPECT_EQ(Dead(), Files({Key(2, Severity::kInfo), Key(4, Severity::kInfo)}));
  // No info left: the oldest warning (3, not 5 or 6) goes; the critical (1) stays.
  EXPECT_EQ(Fire(*d, 7, Severity::kCritical), 1u);
  EXPECT_EQ(Dead(),
            Files({Key(2, Severity::kInfo), Key(4, Severity::kInfo), Key(3, Severity::kWarning)}));
  EXPECT_THAT(DeadFile(Key(3, Severity::kWarning)),
              HasSubstr("\nreason: evicted: spool over its file cap (4 files)\n"));

  EXPECT_EQ(Pending(), Files({Key(1, Severity::kCritical), Key(5, Severity::kWarning),
                              Key(6, Severity::kWarning), Key(7, Severity::kCritical)}));
  EXPECT_EQ(StatsOf(*d).spool_evicted, 3u);
  EXPECT_EQ(d->spool_usage().files, 4u);
  EXPECT_EQ(d->pending(), 4u);
}

TEST_F(SpoolCapTest, ANewInfoIsDeadLetteredWhenEverythingPendingOutranksIt) {
  auto d = Make(Config(int64_t{1} << 30, 2));
  ASSERT_EQ(Fire(*d, 1, Severity::kCritical), 1u);
  ASSERT_EQ(Fire(*d, 2, Severity::kCritical), 1u);
  const uint64_t bytes_before = d->spool_usage().bytes;

  EXPECT_EQ(Fire(*d, 3, Severity::kInfo), 0u);  // not spooled

  EXPECT_EQ(Dead(), Files({Key(3, Severity::kInfo)}));
  EXPECT_THAT(DeadFile(Key(3, Severity::kInfo)),
              HasSubstr("\nreason: evicted: spool over its file cap (2 files); every pending "
                        "notification outranks it\n"));
  EXPECT_EQ(Pending(), Files({Key(1, Severity::kCritical), Key(2, Severity::kCritical)}));
  EXPECT_EQ(StatsOf(*d).spool_evicted, 1u);
  EXPECT_EQ(d->pending(), 2u);
  EXPECT_EQ(d->spool_usage().files, 2u);
  EXPECT_EQ(d->spool_usage().bytes, bytes_before);
}

TEST_F(SpoolCapTest, ANewStateOfAPendingFindingTakesItsRoomWithoutEvicting) {
  auto d = Make(Config(int64_t{1} << 30, 2));
  ASSERT_EQ(Fire(*d, 1, Severity::kWarning), 1u);
  ASSERT_EQ(Fire(*d, 2, Severity::kWarning), 1u);

  // Finding 1 turns critical: its pending warning is superseded (deleted), which makes the room.
  EXPECT_EQ(Fire(*d, 1, Severity::kCritical), 1u);

  EXPECT_EQ(Dead().size(), 0u);
  EXPECT_EQ(Pending(), Files({IdempotencyKey("dno", Id(1), false, Severity::kCritical, 2),
                              Key(2, Severity::kWarning)}));
  const ReceiverStats s = StatsOf(*d);
  EXPECT_EQ(s.spool_evicted, 0u);
  EXPECT_EQ(s.superseded, 1u);
  EXPECT_EQ(d->spool_usage().bytes, PendingBytesOnDisk());
}

TEST_F(SpoolCapTest, TheCapsHoldAcrossARestart) {
  const uint64_t one = OneNotificationBytes();
  {
    auto d = Make(Config(int64_t{1} << 30, 100'000));
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(Fire(*d, i, Severity::kWarning), 1u);
  }
  // Restarted with a byte cap with room for three: the three reloaded files are counted.
  const int64_t cap = static_cast<int64_t>(3 * one + one / 2);
  auto d = Make(Config(cap, 100'000));
  ASSERT_EQ(d->pending(), 3u);
  EXPECT_EQ(d->spool_usage().files, 3u);
  EXPECT_EQ(d->spool_usage().bytes, PendingBytesOnDisk());

  EXPECT_EQ(Fire(*d, 4, Severity::kCritical), 1u);

  EXPECT_EQ(Dead(), Files({Key(1, Severity::kWarning)}));
  EXPECT_THAT(DeadFile(Key(1, Severity::kWarning)),
              HasSubstr("reason: evicted: spool over its byte cap"));
  EXPECT_EQ(Pending(), Files({Key(2, Severity::kWarning), Key(3, Severity::kWarning),
                              Key(4, Severity::kCritical)}));
  EXPECT_EQ(StatsOf(*d).spool_evicted, 1u);
  EXPECT_EQ(d->spool_usage().bytes, PendingBytesOnDisk());
}

TEST_F(SpoolCapTest, ASpoolReloadedOverALoweredFileCapIsBroughtUnderItAtTheNextSave) {
  {
    auto d = Make(Config(int64_t{1} << 30, 100'000));
    for (int i = 1; i <= 4; ++i) ASSERT_EQ(Fire(*d, i, Severity::kWarning), 1u);
  }
  auto d = Make(Config(int64_t{1} << 30, 2));
  EXPECT_EQ(d->spool_usage().files, 4u);  // reloaded whole: nothing is evicted at start
  EXPECT_EQ(Dead().size(), 0u);

  EXPECT_EQ(Fire(*d, 5, Severity::kWarning), 1u);

  EXPECT_EQ(Dead(), Files({Key(1, Severity::kWarning), Key(2, Severity::kWarning),
                           Key(3, Severity::kWarning)}));
  EXPECT_EQ(Pending(), Files({Key(4, Severity::kWarning), Key(5, Severity::kWarning)}));
  EXPECT_EQ(StatsOf(*d).spool_evicted, 3u);
}

class SpoolCapConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<WebhookConfig> Load(const std::string& lines) {
    const YAML::Node root = YAML::Load("webhooks:\n  spool_dir: /tmp/spool\n" + lines);
    return LoadWebhookConfig(root["webhooks"], "smetsmon.yaml", areas_);
  }
  catalog::AreaTable areas_ = testing::LoadAreas();
};

TEST_F(SpoolCapConfigTest, DefaultsAndValues) {
  auto c = Load("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spool_max_bytes, int64_t{1} << 30);
  EXPECT_EQ(c->spool_max_files, 100'000);
  c = Load("  spool_max_bytes: 5000000\n  spool_max_files: 7\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spool_max_bytes, 5'000'000);
  EXPECT_EQ(c->spool_max_files, 7);
}

TEST_F(SpoolCapConfigTest, RejectsZeroNegativeAndNonNumbers) {
  for (const char* key : {"spool_max_bytes", "spool_max_files"}) {
    for (const char* value : {"0", "-1", "-1073741824", "lots"}) {
      auto c = Load("  " + std::string(key) + ": " + value + "\n");
      ASSERT_FALSE(c.ok()) << key << ": " << value;
      EXPECT_THAT(std::string(c.status().message()),
                  HasSubstr("field 'webhooks." + std::string(key) + "'"))
          << c.status();
      EXPECT_THAT(std::string(c.status().message()), HasSubstr("smetsmon.yaml:3:")) << c.status();
    }
  }
}

}  // namespace
}  // namespace smetsmon::webhook
