// The sealed state files of the webhook outputs: round trip of any value, and refusal of what a
// torn write, a flipped bit or a foreign file leaves.
#include "webhook/state_file.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

constexpr char kMagic[] = "smetsmon-test-state 1";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(StateFileTest, RoundTripsAnyValue) {
  const std::string path = testing::FreshDir("state-file") + "/s.state";
  const std::vector<StateLine> lines = {{"firing", "critical a,b power_outage:area=South Wales:1"},
                                        {"explanation", "two\nlines \\ and\r a slash"},
                                        {"empty", ""},
                                        {"checksum", "a key of ours is only a key"}};
  ASSERT_TRUE(WriteStateFile(path, kMagic, lines).ok());
  EXPECT_TRUE(testing::FilesIn(std::filesystem::path(path).parent_path(), ".tmp").empty());
  auto read = ReadStateFile(path, kMagic);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, lines);
}

TEST(StateFileTest, MissingIsNotFound) {
  const std::string dir = testing::FreshDir("state-file");
  EXPECT_TRUE(absl::IsNotFound(ReadStateFile(dir + "/none.state", kMagic).status()));
}

TEST(StateFileTest, RefusesTornFlippedAndForeignFiles) {
  const std::string path = testing::FreshDir("state-file") + "/s.state";
  ASSERT_TRUE(WriteStateFile(path, kMagic, {{"resolved", "storm:x:1"}}).ok());
  const std::string good = ReadAll(path);
  std::string flipped = good;
  flipped[flipped.find("storm")] = 'S';
  for (const std::string& bad : {good.substr(0, good.size() - 1), good.substr(0, good.size() / 2),
                                 flipped, std::string(""), std::string("garbage")}) {
    smetsmon::testing::WriteFile(path, bad);
    auto read = ReadStateFile(path, kMagic);
    EXPECT_TRUE(absl::IsDataLoss(read.status())) << bad << " -> " << read.status();
  }
  smetsmon::testing::WriteFile(path, good);
  EXPECT_TRUE(absl::IsDataLoss(ReadStateFile(path, "smetsmon-other-state 1").status()));
}

TEST(StateFileTest, SetAsideMovesTheFile) {
  const std::string path = testing::FreshDir("state-file") + "/s.state";
  smetsmon::testing::WriteFile(path, "garbage");
  auto aside = SetAsideStateFile(path);
  ASSERT_TRUE(aside.ok()) << aside.status();
  EXPECT_EQ(*aside, path + ".corrupt");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(ReadAll(*aside), "garbage");
}

}  // namespace
}  // namespace smetsmon::webhook
