// The daemon end to end against the mock cluster: HTTP on port 0, health, readiness, metrics that
// reconcile with what was produced, and a graceful stop that leaves a snapshot behind.
#include "app/daemon.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gen/generator.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"

namespace smetsmon::app {
namespace {

std::pair<int, std::string> Get(uint16_t port, const std::string& path,
                                const std::string& token = "s3cret") {
  return testing::HttpGet(port, path, token);
}

// librdkafka connects to the brokers it needs (partition leaders, the group coordinator).
constexpr char kBrokersUp[] = "smetsmon_kafka_brokers{client=\"consumer\",state=\"UP\"}";

TEST(DaemonTest, ServesHealthReadinessAndMetricsThatReconcile) {
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string inventory = testing::TempPath("daemon-inventory.csv");
  const testing::ProducedTraffic produced =
      testing::ProduceTraffic(kafka, ref, 1500, 4, "smets.alerts", inventory);
  const std::vector<std::string>& lines = produced.lines;

  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = "daemon-test";
  settings->kafka.properties["statistics.interval.ms"] = "100";
  settings->http_listen = "127.0.0.1:0";
  // The traffic's partitions are read in no set order: a dedup horizon longer than the traffic
  // makes every redelivery a duplicate however they interleave (see kafka_source_test).
  settings->engine.dedup_horizon_ms = 7 * kMsPerDay;
  settings->http_bearer_token = "s3cret";
  settings->inventory_path = inventory;
  settings->checkpoint_path = testing::TempPath("state.snap");
  std::filesystem::remove(settings->checkpoint_path);
  ManualClock clock(ProcessingTime{4'000'000'000'000});
  DaemonHooks hooks;
  hooks.clock = &clock;
  std::string metrics_text, findings, gonogo, whatif, delivery, top, device, areas, storms;
  int no_token = 0, wrong_token = 0, bad_device = 0, unknown_device = 0, metrics_open = 0;
  // A device the generator certainly wrote: the first valid line's.
  std::string known_device;
  for (const std::string& l : lines) {
    const size_t at = l.find("\"device_id\":\"");
    if (at != std::string::npos && l.find("\"alert_id\"") != std::string::npos) {
      known_device = l.substr(at + 13, 23);
      break;
    }
  }
  int health = 0, ready = 0, missing = 0;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t port) {
    aggregate::Engine* engine = d.engine;
    const auto d_stream_ms = [engine] { return engine->StreamTime().ms; };
    client = std::thread([&, port, d_stream_ms, ingest = d.ingest.get()] {
      health = Get(port, "/healthz").first;
      const bool applied = ingest->WaitForApplied(lines.size(), 60'000);
      // librdkafka's statistics (every 100 ms here) show brokers of the mock cluster up.
      for (int i = 0; i < 200; ++i) {
        if (testing::MetricValue(Get(port, "/metrics").second, kBrokersUp) >= 1) break;
        ingest->WaitForApplied(~uint64_t{0}, 50);
      }
      // Readiness follows the group and the fetch watermarks: allow it a few seconds.
      for (int i = 0; i < 200 && (ready = Get(port, "/readyz").first) != 200; ++i) {
        ingest->WaitForApplied(~uint64_t{0}, 50);
      }
      // The rules evaluate on the minute grid of stream time: wait for the evaluation at the last
      // whole minute the stream reached.
      for (int i = 0; i < 200; ++i) {
        findings = Get(port, "/api/v1/findings").second;
        const int64_t grid = d_stream_ms() / kMsPerMinute * kMsPerMinute;
        if (findings.find("\"evaluated_at_ms\":" + std::to_string(grid)) != std::string::npos) {
          break;
        }
        ingest->WaitForApplied(~uint64_t{0}, 50);
      }
      gonogo = Get(port, "/api/v1/gonogo").second;
      whatif = Get(port, "/api/v1/whatif").second;
      delivery = Get(port, "/api/v1/delivery").second;
      top = Get(port, "/api/v1/top").second;
      storms = Get(port, "/api/v1/storms").second;
      metrics_text = Get(port, "/metrics").second;
      missing = Get(port, "/nope").first;
      device = Get(port, "/api/v1/devices/" + known_device).second;
      areas = Get(port, "/api/v1/areas").second;
      bad_device = Get(port, "/api/v1/devices/not-a-device").first;
      unknown_device = Get(port, "/api/v1/devices/00-00-00-00-00-00-00-01").first;
      no_token = Get(port, "/api/v1/findings", "").first;
      wrong_token = Get(port, "/api/v1/findings", "guess").first;
      metrics_open = Get(port, "/metrics", "").first;
      EXPECT_TRUE(applied);
      ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;
  EXPECT_EQ(health, 200);
  EXPECT_EQ(ready, 200);
  EXPECT_EQ(missing, 404);
  const gen::GeneratedTruth& t = produced.truth;
  EXPECT_EQ(testing::MetricValue(metrics_text, "smetsmon_events_accepted_total"),
            static_cast<double>(t.unique_valid));
  EXPECT_EQ(testing::MetricValue(metrics_text, "smetsmon_events_duplicate_total"),
            static_cast<double>(t.duplicates));
  EXPECT_EQ(testing::MetricValue(metrics_text, "smetsmon_kafka_consumed_messages_total"),
            static_cast<double>(t.lines));
  EXPECT_NE(metrics_text.find("smetsmon_kafka_consumer_lag_messages{partition=\"0\"} 0"),
            std::string::npos)
      << metrics_text;
  EXPECT_GE(testing::MetricValue(metrics_text, kBrokersUp), 1) << metrics_text;
  EXPECT_LE(testing::MetricValue(metrics_text, kBrokersUp), 3) << metrics_text;
  EXPECT_NE(metrics_text.find("smetsmon_kafka_client_errors_total{client=\"consumer\"} "),
            std::string::npos);
  EXPECT_NE(metrics_text.find("smetsmon_kafka_fetch_queue_bytes "), std::string::npos);
  // Read to its end: no lag in seconds either, though its last event is hours older than now.
  EXPECT_NE(metrics_text.find("smetsmon_kafka_consumer_lag_seconds{partition=\"0\"} 0\n"),
            std::string::npos)
      << metrics_text;
  EXPECT_TRUE(std::filesystem::exists(settings->checkpoint_path));

  // The rules: the API answers, and the metrics carry the Go/No-Go and findings (bounded labels).
  EXPECT_NE(findings.find("\"open\":["), std::string::npos) << findings;
  EXPECT_NE(gonogo.find("\"current\":{\"at_ms\":"), std::string::npos) << gonogo;
  // With the inventory loaded, the per-installation criterion has its denominator.
  EXPECT_NE(gonogo.find("\"id\":\"smets1_alerts_per_installation\",\"metric\":"
                        "\"smets1_alerts_per_installation_per_day\",\"value\":"),
            std::string::npos)
      << gonogo;
  EXPECT_EQ(gonogo.find("\"smets1_alerts_per_installation_per_day\",\"value\":null"),
            std::string::npos)
      << gonogo;
  // The generator's SMETS1 DMC flood sends 8F40 with voltages: the what-if counted them.
  EXPECT_NE(whatif.find("\"rule\":\"SMETS1 8F40\",\"scope\":\"all\",\"window\":\"24h\""),
            std::string::npos)
      << whatif;
  EXPECT_NE(delivery.find("\"priority\":\"critical\""), std::string::npos) << delivery;
  EXPECT_NE(top.find("\"count\":"), std::string::npos) << top;
  // Storm scopes say what their thresholds rest on, in the API and the metrics alike.
  EXPECT_NE(storms.find("\"scopes\":[{\"scope\":"), std::string::npos) << storms;
  for (const char* basis : {"learning", "provisional", "learned"}) {
    const size_t at = storms.find(absl::StrCat("\"", basis, "\":"));
    ASSERT_NE(at, std::string::npos) << storms;
    const double n = std::stod(storms.substr(at + std::strlen(basis) + 3));
    EXPECT_EQ(testing::MetricValue(metrics_text,
                                   absl::StrCat("smetsmon_storm_scopes{basis=\"", basis, "\"}")),
              n)
        << basis;
  }
  EXPECT_GE(testing::MetricValue(metrics_text, "smetsmon_rules_evaluations_total"), 1);
  // The pipeline's and checkpoint's series the alerting rules use (metrics_lint_test checks the
  // rest without a running pipeline).
  {
    std::ifstream in(std::string(SMETSMON_SOURCE_DIR) + "/deploy/prometheus/smetsmon.rules.yml");
    const std::string rules((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(rules.empty());
    size_t checked = 0;
    for (const char* prefix : {"smetsmon_checkpoint_", "smetsmon_pipeline_"}) {
      for (size_t at = rules.find(prefix); at != std::string::npos;
           at = rules.find(prefix, at + 1)) {
        size_t end = at;
        while (end < rules.size() &&
               (std::islower(static_cast<unsigned char>(rules[end])) || rules[end] == '_')) {
          ++end;
        }
        const std::string name = rules.substr(at, end - at);
        EXPECT_NE(metrics_text.find("\n" + name), std::string::npos) << "rules use " << name;
        ++checked;
      }
    }
    EXPECT_GE(checked, 5u);
  }
  // Devices and areas; the bearer token guards the API (not health or metrics).
  ASSERT_EQ(known_device.size(), 23u);
  EXPECT_NE(device.find("\"device_id\":\"" + known_device + "\""), std::string::npos) << device;
  EXPECT_NE(device.find("\"last_alerts\":[{"), std::string::npos) << device;
  EXPECT_NE(device.find("\"inventory\":{\"area\":"), std::string::npos) << device;
  EXPECT_NE(areas.find("\"name\":\"Eastern\""), std::string::npos) << areas;
  EXPECT_EQ(bad_device, 400);
  EXPECT_EQ(unknown_device, 404);
  EXPECT_EQ(no_token, 401);
  EXPECT_EQ(wrong_token, 401);
  EXPECT_EQ(metrics_open, 200);
  EXPECT_NE(metrics_text.find("smetsmon_gonogo_status{criterion=\"overall\"}"), std::string::npos)
      << metrics_text;
  EXPECT_NE(metrics_text.find("smetsmon_findings_open{kind=\"storm\",area=\"all\"}"),
            std::string::npos)
      << metrics_text;
}

}  // namespace
}  // namespace smetsmon::app
