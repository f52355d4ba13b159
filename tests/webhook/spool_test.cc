#include "webhook/spool.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using testing::FilesIn;
using testing::FreshDir;

Notification Sample(const std::string& key, const std::string& body = R"({"version":"4"})") {
  Notification n;
  n.receiver = "ukpn";
  n.finding_id = "power_outage:area=Eastern:1709287200000";
  n.resolved = false;
  n.firing_number = 3;
  n.priority = 2;
  n.created_ms = 1'709'287'260'000;
  n.next_attempt_ms = 1'709'287'261'000;
  n.attempts = 1;
  n.key = key;
  n.body = body;
  return n;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SpoolTest, EncodeDecodeRoundTripsAnyBody) {
  const Notification n = Sample("0123456789abcdef0123456789abcdef",
                                std::string("a\n\nb\r\n\0c", 9) + "{\"x\": \"\\n\"}");
  auto d = DecodeNotification(EncodeNotification(n));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->receiver, n.receiver);
  EXPECT_EQ(d->finding_id, n.finding_id);
  EXPECT_EQ(d->resolved, n.resolved);
  EXPECT_EQ(d->firing_number, 3u);
  EXPECT_EQ(d->priority, n.priority);
  EXPECT_EQ(d->created_ms, n.created_ms);
  EXPECT_EQ(d->next_attempt_ms, n.next_attempt_ms);
  EXPECT_EQ(d->attempts, n.attempts);
  EXPECT_EQ(d->key, n.key);
  EXPECT_EQ(d->body, n.body);
}

// Files spooled before notifications were numbered have no firing_number line: they still load
// (as 0), and so does a file with the line for a build that ignores it.
TEST(SpoolTest, AFileWithoutFiringNumberReadsAsZero) {
  std::string text = EncodeNotification(Sample("0123456789abcdef0123456789abcdef"));
  const size_t at = text.find("firing_number: 3\n");
  ASSERT_NE(at, std::string::npos);
  text.erase(at, std::string("firing_number: 3\n").size());
  auto d = DecodeNotification(text);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->firing_number, 0u);
  EXPECT_EQ(d->key, "0123456789abcdef0123456789abcdef");
  std::string bad = EncodeNotification(Sample("0123456789abcdef0123456789abcdef"));
  bad.replace(bad.find("firing_number: 3"), 16, "firing_number: x");
  EXPECT_FALSE(DecodeNotification(bad).ok());
}

TEST(SpoolTest, RejectsTruncatedAndForeignFiles) {
  const std::string text = EncodeNotification(Sample("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(DecodeNotification(text.substr(0, text.size() - 1)).ok());
  EXPECT_FALSE(DecodeNotification("hello\n\nworld").ok());
  EXPECT_FALSE(DecodeNotification("").ok());
}

TEST(SpoolTest, SaveLoadRemoveAndDeadLetter) {
  const std::string dir = FreshDir("spool");
  auto spool = Spool::Open(dir);
  ASSERT_TRUE(spool.ok()) << spool.status();
  Notification a = Sample("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  const Notification b = Sample("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  ASSERT_TRUE(spool->Save(a).ok());
  ASSERT_TRUE(spool->Save(b).ok());
  a.attempts = 7;  // a rewrite replaces the file
  ASSERT_TRUE(spool->Save(a).ok());
  EXPECT_EQ(FilesIn(dir, ".ntf").size(), 2u);
  EXPECT_TRUE(FilesIn(dir, ".tmp").empty());

  auto loaded = spool->Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->pending.size(), 2u);
  EXPECT_EQ(loaded->pending[0].key, a.key);
  EXPECT_EQ(loaded->pending[0].attempts, 7u);
  EXPECT_TRUE(loaded->bad.empty());

  ASSERT_TRUE(spool->Remove(a).ok());
  ASSERT_TRUE(spool->Remove(a).ok());  // already gone: fine
  ASSERT_TRUE(spool->DeadLetter(b, "rejected with HTTP 400").ok());
  EXPECT_TRUE(FilesIn(dir, ".ntf").empty());
  ASSERT_EQ(FilesIn(dir + "/dead", ".ntf").size(), 1u);
  const std::string dead = ReadAll(spool->DeadPath(b));
  EXPECT_NE(dead.find("reason: rejected with HTTP 400"), std::string::npos);
  auto dead_n = DecodeNotification(dead);
  ASSERT_TRUE(dead_n.ok());
  EXPECT_EQ(dead_n->body, b.body);
}

// Keys name notifications, so one can be dead-lettered twice (spooled again after a restart):
// both dead letters are kept.
TEST(SpoolTest, DeadLettersOfOneKeyAreAllKept) {
  const std::string dir = FreshDir("spool");
  auto spool = Spool::Open(dir);
  ASSERT_TRUE(spool.ok());
  const Notification n = Sample("abababababababababababababababab");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(spool->Save(n).ok());
    ASSERT_TRUE(spool->DeadLetter(n, "max_age " + std::to_string(i)).ok());
  }
  EXPECT_TRUE(FilesIn(dir, ".ntf").empty());
  EXPECT_EQ(FilesIn(dir + "/dead", ".ntf"),
            (std::vector<std::string>{n.key + ".1.ntf", n.key + ".2.ntf", n.key + ".ntf"}));
  EXPECT_NE(ReadAll(spool->DeadPath(n)).find("reason: max_age 0"), std::string::npos);
  EXPECT_NE(ReadAll(dir + "/dead/" + n.key + ".2.ntf").find("reason: max_age 2"),
            std::string::npos);
}

TEST(SpoolTest, LoadSetsAsideCorruptFilesAndCleansCrashLeftovers) {
  const std::string dir = FreshDir("spool");
  auto spool = Spool::Open(dir);
  ASSERT_TRUE(spool.ok());
  const Notification good = Sample("cccccccccccccccccccccccccccccccc");
  ASSERT_TRUE(spool->Save(good).ok());
  const std::string text = EncodeNotification(Sample("dddddddddddddddddddddddddddddddd"));
  smetsmon::testing::WriteFile(dir + "/dddddddddddddddddddddddddddddddd.ntf",
                               text.substr(0, text.size() - 3));  // torn write without rename
  smetsmon::testing::WriteFile(dir + "/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.ntf", "garbage");
  smetsmon::testing::WriteFile(dir + "/.ffffffffffffffffffffffffffffffff.ntf.tmp", "half");
  smetsmon::testing::WriteFile(dir + "/README", "not ours");

  auto loaded = spool->Load();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->pending.size(), 1u);
  EXPECT_EQ(loaded->pending[0].key, good.key);
  EXPECT_EQ(loaded->bad.size(), 2u);
  EXPECT_EQ(FilesIn(dir, ".ntf"), std::vector<std::string>{good.key + ".ntf"});
  EXPECT_EQ(FilesIn(dir + "/dead", ".ntf").size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir + "/.ffffffffffffffffffffffffffffffff.ntf.tmp"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/README"));
}

TEST(SpoolTest, PruneDeadDeletesOnlyDeadLettersOlderThanTheMaxAge) {
  namespace fs = std::filesystem;
  const std::string dir = FreshDir("spool");
  auto spool = Spool::Open(dir);
  ASSERT_TRUE(spool.ok());
  const Notification old_one = Sample("11111111111111111111111111111111");
  const Notification young = Sample("22222222222222222222222222222222");
  const Notification pending = Sample("33333333333333333333333333333333");
  for (const Notification* n : {&old_one, &young, &pending}) ASSERT_TRUE(spool->Save(*n).ok());
  ASSERT_TRUE(spool->DeadLetter(old_one, "max_age").ok());
  ASSERT_TRUE(spool->DeadLetter(young, "max_age").ok());
  smetsmon::testing::WriteFile(dir + "/dead/README", "not ours");
  // Dead-lettered 8 days and 6 days before `now` (set on the files: no waiting).
  const int64_t now_ms = 1'800'000'000'000;
  const int64_t day_ms = 86'400'000;
  const auto at = [](int64_t ms) {
    return std::chrono::file_clock::from_sys(
        std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms)));
  };
  fs::last_write_time(spool->DeadPath(old_one), at(now_ms - 8 * day_ms));
  fs::last_write_time(spool->DeadPath(young), at(now_ms - 6 * day_ms));
  fs::last_write_time(dir + "/dead/README", at(now_ms - 30 * day_ms));
  fs::last_write_time(spool->PendingPath(pending), at(now_ms - 30 * day_ms));

  auto removed = spool->PruneDead(now_ms, 7 * day_ms);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(FilesIn(dir + "/dead", ".ntf"), std::vector<std::string>{young.key + ".ntf"});
  EXPECT_TRUE(fs::exists(dir + "/dead/README"));         // only dead letters are pruned
  EXPECT_TRUE(fs::exists(spool->PendingPath(pending)));  // pending files never are
  // Two days later the other one is past the age too.
  removed = spool->PruneDead(now_ms + 2 * day_ms, 7 * day_ms);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(FilesIn(dir + "/dead", ".ntf").empty());
}

TEST(SpoolTest, OpenCreatesTheDirectories) {
  const std::string dir = FreshDir("spool") + "/a/b";
  ASSERT_TRUE(Spool::Open(dir).ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/dead"));
  EXPECT_FALSE(Spool::Open("").ok());
}

}  // namespace
}  // namespace smetsmon::webhook
