// `smetsmon check-config` through the real binary: the shipped configuration is OK (exit 0), a
// broken copy gives each error as file:line: field: what (exit 2), and a Kafka property's value is
// never printed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "testing/fixtures.h"

namespace smetsmon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A copy of config/ in a fresh directory.
std::string ConfigCopy() {
  const std::string dir = testing::TempPath("config");
  std::filesystem::remove_all(dir);
  std::filesystem::copy(testing::ConfigDir(), dir);
  return dir;
}

// Replaces the first `from` in dir/file by `to`; returns the 1-based line of the change.
int Replace(const std::string& dir, const std::string& file, const std::string& from,
            const std::string& to) {
  std::string text = ReadAll(dir + "/" + file);
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return 0;
  text.replace(at, from.size(), to);
  testing::WriteFile(dir + "/" + file, text);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

testing::CommandResult CheckConfig(const std::string& args) {
  return testing::RunCommand(std::string(SMETSMON_BINARY) + " check-config " + args + " 2>&1");
}

TEST(CheckConfigCliTest, ShippedConfigurationIsOk) {
  const auto r = CheckConfig(testing::ConfigDir());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "configuration OK: " + testing::ConfigDir() + "\n");
}

TEST(CheckConfigCliTest, WithoutADirectoryItSearchesLikeRun) {
  // ./config from the source tree, as `run` would take it.
  const auto r = testing::RunCommand("cd " + std::string(SMETSMON_SOURCE_DIR) + " && " +
                                     SMETSMON_BINARY + " check-config 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "configuration OK: config\n");
}

TEST(CheckConfigCliTest, EachBrokenFileIsReportedWithFileAndLine) {
  const std::string dir = ConfigCopy();
  const int settings_line = Replace(dir, "smetsmon.yaml", "  dedup_horizon:", "  dedup_horizn:");
  const int areas_line = Replace(dir, "areas.yaml", "dno_group: UK", "dno_grup: UK");
  const auto r = CheckConfig(dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr(dir + "/smetsmon.yaml:" + std::to_string(settings_line) +
                               ": field 'dedup_horizn': unknown key in 'engine'; did you mean "
                               "'dedup_horizon'?\n"));
  EXPECT_THAT(r.out, HasSubstr(dir + "/areas.yaml:" + std::to_string(areas_line) +
                               ": field 'dno_grup': unknown key in 'areas'; did you mean "
                               "'dno_group'?\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("configuration OK")));
}

TEST(CheckConfigCliTest, RulesAndWebhooksAreChecked) {
  const std::string dir = ConfigCopy();
  const int rules_line = Replace(dir, "rules.yaml", "  warmup:", "  wramup:");
  const int hooks_line = Replace(dir, "smetsmon.yaml", "  receivers: []",
                                 "  receivers:\n    - {nmae: a, url: 'http://127.0.0.1:1/'}");
  const auto r = CheckConfig(dir + "/smetsmon.yaml");  // the file itself works too
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr(dir + "/rules.yaml:" + std::to_string(rules_line) +
                               ": field 'wramup': unknown key in 'storms'"));
  EXPECT_THAT(r.out, HasSubstr(dir + "/smetsmon.yaml:" + std::to_string(hooks_line + 1) +
                               ": field 'webhooks.receivers[0].nmae' is not a known setting"));
}

TEST(CheckConfigCliTest, KafkaPropertiesNameTheKeyNeverTheValue) {
  const std::string dir = ConfigCopy();
  const int line = Replace(dir, "smetsmon.yaml", "  group.id: smetsmon\n",
                           "  group.id: smetsmon\n  session.timeout.ms: value-4711-xyzzy\n"
                           "  no.such.property: other-0815-plugh\n");
  const auto r = CheckConfig(dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr(dir + "/smetsmon.yaml:" + std::to_string(line + 1) +
                               ": field 'kafka.session.timeout.ms': has a value librdkafka "
                               "refuses"));
  EXPECT_THAT(r.out, HasSubstr(dir + "/smetsmon.yaml:" + std::to_string(line + 2) +
                               ": field 'kafka.no.such.property': is not a librdkafka property"));
  EXPECT_THAT(r.out, Not(HasSubstr("4711")));
  EXPECT_THAT(r.out, Not(HasSubstr("0815")));
}

TEST(CheckConfigCliTest, MissingSecretAndDirectory) {
  const std::string dir = ConfigCopy();
  Replace(dir, "smetsmon.yaml", "  group.id: smetsmon\n",
          "  group.id: smetsmon\n  sasl.password_file: /nonexistent/smetsmon-secret\n");
  auto r = CheckConfig(dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("field 'kafka.sasl.password_file' cannot read secret file "
                               "/nonexistent/smetsmon-secret"));
  r = CheckConfig(dir + "/no-such-dir");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no-such-dir: no such configuration file or directory"));
}

TEST(CheckConfigCliTest, AnUnreadableInventoryIsAnError) {
  const std::string dir = ConfigCopy();
  Replace(dir, "smetsmon.yaml", "\ninventory:\n  path: \"\"",
          "\ninventory:\n  path: /nonexistent/smetsmon-inventory.csv");
  auto r = CheckConfig(dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr(dir + "/smetsmon.yaml: field 'inventory.path': cannot read "
                                     "/nonexistent/smetsmon-inventory.csv"));
  Replace(dir, "smetsmon.yaml", "/nonexistent/smetsmon-inventory.csv", dir);  // a directory
  r = CheckConfig(dir);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("field 'inventory.path': cannot read"));
}

}  // namespace
}  // namespace smetsmon
