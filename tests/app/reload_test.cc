// SIGHUP reloads the alert catalogue and the rules in a running daemon fed by the mock cluster:
// a code's new priority moves its new alerts to another delivery class while what was counted
// stays; a catalogue that would change the window layout, or does not parse, is refused and the
// running one stays, while the rules still reload.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/daemon.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"

namespace smetsmon::app {
namespace {

constexpr int64_t kNowMs = 1'800'000'000'000;  // 2027-01-15

// `n` firmware alerts (8F72) with their DCC time, from new devices in Eastern, a second apart
// from `t0_ms`.
std::vector<std::string> FirmwareAlerts(int first, int n, int64_t t0_ms) {
  std::vector<std::string> lines;
  for (int i = first; i < first + n; ++i) {
    char line[400];
    const int64_t t = t0_ms + (i - first) * 1000;
    std::snprintf(line, sizeof line,
                  R"({"alert_id":"reload-%d","device_id":"00-DB-00-00-00-00-10-%02X",)"
                  R"("alert_code":"8F72","event_time":%lld,"dcc_time":%lld,"smets":2,)"
                  R"("gsp_group":"_A"})",
                  i, i, static_cast<long long>(t), static_cast<long long>(t + 2000));
    lines.emplace_back(line);
  }
  return lines;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The catalogue entry of `code` in GET /api/v1/catalogue.
std::string CatalogueEntry(const std::string& body, const std::string& code) {
  const size_t at = body.find("{\"code\":\"" + code + "\"");
  return at == std::string::npos ? "" : body.substr(at, body.find('}', at) - at + 1);
}

TEST(ReloadTest, SighupReloadsTheCatalogueAndRulesOrKeepsTheRunningOnes) {
  testing::MockKafka kafka;
  kafka.CreateTopic("smets.alerts", 2);
  kafka.CreateTopic("smets.alerts.dlq", 1);
  const std::string dir = testing::TempPath("reload");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/config");
  for (const char* file : {"areas.yaml", "alert_catalogue.yaml", "rules.yaml"}) {
    std::filesystem::copy_file(testing::ConfigDir() + "/" + file, dir + "/config/" + file);
  }
  const std::string catalogue_path = dir + "/config/alert_catalogue.yaml";
  const std::string original = ReadFile(catalogue_path);
  const std::string entry_8f72 =
      R"({code: "8F72", name: Firmware verification successful, category: firmware, )"
      R"(recipient: supplier, priority: low})";
  ASSERT_NE(original.find(entry_8f72), std::string::npos);

  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->reference.config_dir = dir + "/config";
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = "reload-test";
  settings->http_listen = "127.0.0.1:0";
  settings->http_bearer_token.clear();
  ManualClock clock(ProcessingTime{kNowMs});
  DaemonHooks hooks;
  hooks.clock = &clock;

  std::map<std::string, bool> waited;
  std::string before, after, after_refused, metrics_text;
  uint64_t low_after = 0, normal_after = 0;
  int64_t reload_ms = 0;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t port) {
    client = std::thread([&, daemon = &d, port] {
      const auto delivered = [daemon](const std::string& priority) {
        uint64_t n = 0;
        for (const rules::DeliveryRow& r : daemon->evaluator->Snapshot().delivery) {
          if (r.priority == priority && r.region == "all" && r.window == "24h") n += r.delivered;
        }
        return n;
      };
      const auto metric = [port](const std::string& series) {
        return testing::MetricValue(testing::HttpGet(port, "/metrics").second, series);
      };
      const std::string catalogue_applied =
          R"(smetsmon_config_reloads_total{file="alert_catalogue",outcome="applied"})";
      const std::string catalogue_refused =
          R"(smetsmon_config_reloads_total{file="alert_catalogue",outcome="refused"})";
      const std::string rules_applied =
          R"(smetsmon_config_reloads_total{file="rules",outcome="applied"})";

      // After the idle stream time (clock - 5 min): the first batch moves the stream on. The rules
      // evaluate on the minute grid of stream time: once the stream is idle, a minute more of
      // the clock moves it past the next minute.
      const int64_t t0 = kNowMs - 4 * kMsPerMinute;
      kafka.Produce("smets.alerts", FirmwareAlerts(0, 10, t0));
      waited["first ten applied"] = daemon->ingest->WaitForApplied(10, 60'000);
      clock.Advance(2 * kMsPerMinute);
      waited["first ten"] = testing::WaitUntil([&] { return delivered("low") == 10; }, 30'000, 20);
      before = testing::HttpGet(port, "/api/v1/catalogue").second;

      // 8F72 renamed and raised to normal priority.
      std::string edited = original;
      edited.replace(edited.find(entry_8f72), entry_8f72.size(),
                     R"({code: "8F72", name: Firmware verified, category: firmware, )"
                     R"(recipient: supplier, priority: normal})");
      testing::WriteFile(catalogue_path, edited);
      reload_ms = clock.Now().ms;
      ::raise(SIGHUP);
      waited["catalogue applied"] =
          testing::WaitUntil([&] { return metric(catalogue_applied) == 1; }, 30'000, 20);
      // The workers take the new class table before their next batch. These four are older than
      // the stream time, which stays put: the rules still evaluate them.
      kafka.Produce("smets.alerts", FirmwareAlerts(10, 4, t0 + 1000));
      waited["four more applied"] = daemon->ingest->WaitForApplied(14, 60'000);
      clock.Advance(kMsPerMinute);  // the stream passes the next minute: the rules judge them
      waited["four more"] =
          testing::WaitUntil([&] { return delivered("normal") == 4; }, 30'000, 20);
      low_after = delivered("low");
      normal_after = delivered("normal");
      after = testing::HttpGet(port, "/api/v1/catalogue").second;

      // A new code needs a restart: refused, the rules still reload.
      std::string added = edited;
      added.replace(added.find("  - {code: \"8F72\""), 0,
                    "  - {code: \"8F99\", name: New alert, category: firmware}\n");
      testing::WriteFile(catalogue_path, added);
      ::raise(SIGHUP);
      waited["refused"] = testing::WaitUntil(
          [&] { return metric(catalogue_refused) == 1 && metric(rules_applied) == 2; }, 30'000, 20);
      after_refused = testing::HttpGet(port, "/api/v1/catalogue").second;
      // A file that does not parse: refused too.
      testing::WriteFile(catalogue_path, "categories: [voltage\n");
      ::raise(SIGHUP);
      waited["invalid"] =
          testing::WaitUntil([&] { return metric(catalogue_refused) == 2; }, 30'000, 20);
      metrics_text = testing::HttpGet(port, "/metrics").second;
      daemon->ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;
  for (const auto& [what, ok] : waited) EXPECT_TRUE(ok) << what;

  EXPECT_EQ(CatalogueEntry(before, "8F72"),
            R"({"code":"8F72","name":"Firmware verification successful","category":"firmware",)"
            R"("recipient":"supplier","priority":"low","clear_code":null,"is_clear":false,)"
            R"("delivery_class":"low"})");
  EXPECT_EQ(CatalogueEntry(after, "8F72"),
            R"({"code":"8F72","name":"Firmware verified","category":"firmware",)"
            R"("recipient":"supplier","priority":"normal","clear_code":null,"is_clear":false,)"
            R"("delivery_class":"normal"})");
  // What was counted stayed in its class; the new alerts counted in the new one.
  EXPECT_EQ(low_after, 10u);
  EXPECT_EQ(normal_after, 4u);
  // Refused: the running catalogue stays (no 8F99, 8F72 as last applied).
  EXPECT_EQ(after_refused, after);
  EXPECT_EQ(CatalogueEntry(after_refused, "8F99"), "");
  EXPECT_EQ(testing::MetricValue(
                metrics_text,
                R"(smetsmon_config_reloads_total{file="alert_catalogue",outcome="applied"})"),
            1);
  EXPECT_EQ(testing::MetricValue(
                metrics_text, R"(smetsmon_config_reloads_total{file="rules",outcome="refused"})"),
            0);
  EXPECT_EQ(
      testing::MetricValue(metrics_text, "smetsmon_config_last_reload_success_timestamp_seconds"),
      static_cast<double>(reload_ms) / 1000.0);
}

}  // namespace
}  // namespace smetsmon::app
