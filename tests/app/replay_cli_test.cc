// Runs the real `smetsmon replay` binary as an operator would and checks its JSON report.
#include <simdjson.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "testing/fixtures.h"

namespace smetsmon {
namespace {

testing::CommandResult RunSmetsmon(const std::string& args) {
  return testing::RunCommand(std::string(SMETSMON_BINARY) + " " + args + " 2>/dev/null");
}

std::string LastLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

uint64_t At(simdjson::dom::element e, const char* pointer) {
  uint64_t v = 0;
  if (e.at_pointer(pointer).get(v)) ADD_FAILURE() << "no " << pointer;
  return v;
}

TEST(ReplayCliTest, SampleReportHasTheContractCounts) {
  const std::string rejects = testing::TempPath("rejects.jsonl");
  const testing::CommandResult r =
      RunSmetsmon("replay " + testing::SamplePath() + " --config " + testing::ConfigDir() +
                  " --rejects " + rejects + " --report json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.parse(LastLine(r.out)).get(report), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(At(report, "/events/read"), 13u);
  EXPECT_EQ(At(report, "/events/accepted"), 5u);
  EXPECT_EQ(At(report, "/events/duplicates"), 1u);
  EXPECT_EQ(At(report, "/events/late"), 0u);
  for (const char* reason : {"not_json", "not_object", "missing_field", "wrong_type",
                             "bad_device_id", "bad_alert_code", "bad_time"}) {
    EXPECT_EQ(At(report, (std::string("/events/rejected/") + reason).c_str()), 1u) << reason;
  }
  // by_category weights throttled_count: the 8028 event stands for 12 alerts.
  EXPECT_EQ(At(report, "/by_category/voltage"), 1u);
  EXPECT_EQ(At(report, "/by_category/power_quality.power_factor"), 1u);
  EXPECT_EQ(At(report, "/by_category/outage.restored_long"), 1u);
  EXPECT_EQ(At(report, "/by_category/outage.start"), 1u);
  EXPECT_EQ(At(report, "/by_category/voltage.extreme_under"), 12u);
  EXPECT_EQ(At(report, "/by_area/north_west"), 2u);
  EXPECT_EQ(At(report, "/by_area/yorkshire"), 1u);
  EXPECT_EQ(At(report, "/by_area/south_scotland"), 1u);
  EXPECT_EQ(At(report, "/by_area/london"), 12u);
  EXPECT_EQ(At(report, "/by_generation/smets1"), 2u);
  EXPECT_EQ(At(report, "/by_generation/smets2"), 14u);
  EXPECT_EQ(At(report, "/windows/24h/by_category/voltage.extreme_under"), 12u);
  EXPECT_EQ(testing::ReadLines(rejects).size(), 7u);
}

TEST(ReplayCliTest, SnapshotThenResumeEqualsOneRun) {
  const auto sample = testing::ReadLines(testing::SamplePath());
  const std::string a = testing::TempPath("a.jsonl"), b = testing::TempPath("b.jsonl");
  const std::string snap = testing::TempPath("state.snap");
  std::string first, second, all;
  for (size_t i = 0; i < sample.size(); ++i) (i < 6 ? first : second) += sample[i] + "\n";
  testing::WriteFile(a, first);
  testing::WriteFile(b, second);
  const std::string common = " --config " + testing::ConfigDir() + " --report json";
  const testing::CommandResult one = RunSmetsmon("replay " + a + " " + b + common);
  const testing::CommandResult part1 =
      RunSmetsmon("replay " + a + common + " --snapshot-out " + snap);
  const testing::CommandResult part2 =
      RunSmetsmon("replay " + b + common + " --snapshot-in " + snap);
  ASSERT_EQ(one.exit_code, 0);
  ASSERT_EQ(part1.exit_code, 0);
  ASSERT_EQ(part2.exit_code, 0);
  EXPECT_EQ(LastLine(part2.out), LastLine(one.out));
}

TEST(ReplayCliTest, BadConfigFailsFastWithTheFileAndLine) {
  const std::string dir = testing::TempPath("config");
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(testing::ConfigDir() + "/alert_catalogue.yaml",
                             dir + "/alert_catalogue.yaml",
                             std::filesystem::copy_options::overwrite_existing);
  testing::WriteFile(dir + "/areas.yaml", "regions: [north]\nareas:\n  - {distributor_id: 5}\n");
  const std::string cmd = std::string(SMETSMON_BINARY) + " replay " + testing::SamplePath() +
                          " --config " + dir + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(out.find(dir + "/areas.yaml:3: field 'distributor_id'"), std::string::npos) << out;
}

// The engine's input bounds through the real binary: a throttled_count over
// engine.max_throttled_count is a dead-lettered bad_value; devices past engine.max_devices (here
// one per virtual shard) get no state, are reported as devices_refused, and their alerts count.
TEST(ReplayCliTest, InputBoundsRejectHeavyCountsAndCapTheDeviceTable) {
  const std::string dir = testing::TempPath("bounds-config");
  std::filesystem::create_directories(dir);
  for (const char* f : {"alert_catalogue.yaml", "areas.yaml"}) {
    std::filesystem::copy_file(testing::ConfigDir() + "/" + f, dir + "/" + f,
                               std::filesystem::copy_options::overwrite_existing);
  }
  constexpr int kMaxDevices = 64;  // one per virtual shard
  constexpr int kDevices = 300;
  constexpr int kMaxCount = 10;
  testing::WriteFile(dir + "/smetsmon.yaml",
                     "engine:\n  max_devices: " + std::to_string(kMaxDevices) +
                         "\n  max_throttled_count: " + std::to_string(kMaxCount) + "\n");
  const auto line = [](int id, int device, int count) {
    char device_id[32];
    std::snprintf(device_id, sizeof device_id, "00-DB-12-34-56-78-%02X-%02X", device / 256,
                  device % 256);
    return "{\"alert_id\":\"b" + std::to_string(id) + "\",\"device_id\":\"" + device_id +
           "\",\"alert_code\":\"8F40\",\"event_time\":\"2023-06-26T12:00:00Z\"," +
           "\"throttled_count\":" + std::to_string(count) + "}\n";
  };
  std::string input;
  for (int d = 1; d <= kDevices; ++d) input += line(d, d, kMaxCount);  // the edge: accepted
  input += line(kDevices + 1, 1, kMaxCount + 1);                       // one over: bad_value
  const std::string events = testing::TempPath("bounds.jsonl");
  const std::string rejects = testing::TempPath("bounds-rejects.jsonl");
  testing::WriteFile(events, input);
  const testing::CommandResult r = RunSmetsmon("replay " + events + " --config " + dir +
                                               " --rejects " + rejects + " --report json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.parse(LastLine(r.out)).get(report), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(At(report, "/events/accepted"), uint64_t{kDevices});
  EXPECT_EQ(At(report, "/events/rejected/bad_value"), 1u);
  const auto rejected = testing::ReadLines(rejects);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].find("\"reason\":\"bad_value\""), std::string::npos) << rejected[0];
  EXPECT_NE(rejected[0].find("b" + std::to_string(kDevices + 1)), std::string::npos) << rejected[0];
  const uint64_t devices = At(report, "/devices");
  EXPECT_LE(devices, uint64_t{kMaxDevices});
  EXPECT_GT(At(report, "/devices_refused"), 0u);
  EXPECT_EQ(devices + At(report, "/devices_refused"), uint64_t{kDevices});  // one alert each
  EXPECT_EQ(At(report, "/by_category/voltage"), uint64_t{kDevices} * kMaxCount);
}

TEST(ReplayCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunSmetsmon("replay").exit_code, 2);
  EXPECT_EQ(RunSmetsmon("replay x --report xml").exit_code, 2);
  EXPECT_EQ(RunSmetsmon("frobnicate").exit_code, 2);
}

}  // namespace
}  // namespace smetsmon

namespace smetsmon {
namespace {

TEST(GenerateCliTest, GeneratedGzipWithInventoryReplaysToTheTruth) {
  const std::string out = testing::TempPath("day.jsonl.gz");
  const std::string inv = testing::TempPath("inv.csv");
  const std::string truth_path = testing::TempPath("truth.json");
  const testing::CommandResult gen = RunSmetsmon(
      "generate --config " + testing::ConfigDir() + " --out " + out + " --inventory-out " + inv +
      " --truth-out " + truth_path + " --premises 800 --hours 12 --seed 5");
  ASSERT_EQ(gen.exit_code, 0);
  const testing::CommandResult r =
      RunSmetsmon("replay " + out + " --config " + testing::ConfigDir() + " --inventory " + inv +
                  " --report json");
  ASSERT_EQ(r.exit_code, 0);
  simdjson::dom::parser p1, p2;
  simdjson::dom::element report, truth;
  ASSERT_EQ(p1.parse(LastLine(r.out)).get(report), simdjson::SUCCESS);
  const auto truth_lines = testing::ReadLines(truth_path);
  ASSERT_EQ(truth_lines.size(), 1u);
  ASSERT_EQ(p2.parse(truth_lines[0]).get(truth), simdjson::SUCCESS);
  EXPECT_EQ(At(report, "/events/read"), At(truth, "/lines"));
  EXPECT_EQ(At(report, "/events/accepted"), At(truth, "/unique_valid"));
  EXPECT_EQ(At(report, "/events/duplicates"), At(truth, "/duplicates"));
  EXPECT_EQ(At(report, "/inventory/devices"), 1600u);  // a hub and a meter per premises
  EXPECT_EQ(
      At(report, "/inventory/by_generation/smets1") + At(report, "/inventory/by_generation/smets2"),
      1600u);
  simdjson::dom::object by_category;
  ASSERT_EQ(truth.at_pointer("/alerts_by_category").get(by_category), simdjson::SUCCESS);
  for (auto [category, count] : by_category) {
    EXPECT_EQ(At(report, ("/by_category/" + std::string(category)).c_str()), uint64_t(count))
        << category;
  }
}

}  // namespace
}  // namespace smetsmon
