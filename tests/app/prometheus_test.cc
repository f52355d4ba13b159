// The real Prometheus (Debian package `prometheus`) scraping the daemon fed by the mock Kafka
// cluster: the values Prometheus holds, read back through its HTTP query API, equal what the load
// generator sent.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "app/daemon.h"
#include "gen/generator.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"

namespace smetsmon::app {
namespace {

// The first sample value of an instant-query answer, or -1.
double QueryValue(uint16_t port, const std::string& promql) {
  std::string q;
  for (char c : promql) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      q.push_back(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      q += buf;
    }
  }
  const auto [status, body] = testing::HttpGet(port, "/api/v1/query?query=" + q);
  if (status != 200) return -1;
  const size_t at = body.find("\"value\":[");
  if (at == std::string::npos) return -1;
  const size_t quote = body.find('"', body.find(',', at) + 1);
  return quote == std::string::npos ? -1 : std::atof(body.c_str() + quote + 1);
}

TEST(PrometheusTest, ScrapedValuesEqualWhatTheGeneratorSent) {
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const testing::ProducedTraffic produced = testing::ProduceTraffic(kafka, ref, 2000, 6);
  const std::vector<std::string>& lines = produced.lines;
  const gen::GeneratedTruth& truth = produced.truth;

  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = "prometheus-test";
  settings->http_listen = "127.0.0.1:0";
  // The traffic's partitions are read in no set order: a dedup horizon longer than the traffic
  // makes every redelivery a duplicate however they interleave (see kafka_source_test).
  settings->engine.dedup_horizon_ms = 7 * kMsPerDay;
  ManualClock clock(ProcessingTime{4'000'000'000'000});
  DaemonHooks hooks;
  hooks.clock = &clock;

  const std::string dir = testing::TempPath("prometheus");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  double accepted = -1, duplicates = -1, consumed = -1, rejected = -1, gonogo = -1;
  std::map<std::string, double> alerts_by_category;  // as Prometheus holds them
  bool applied = false, prometheus_started = false;
  std::string prometheus_log;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t port) {
    client = std::thread([&, port, ingest = d.ingest.get()] {
      applied = ingest->WaitForApplied(lines.size(), 60'000);
      {
        testing::PrometheusServer prometheus(dir, port);
        const uint16_t prom_port = prometheus.port();
        prometheus_started = prometheus.started();
        const auto expected = static_cast<double>(truth.unique_valid);
        testing::WaitUntil(
            [&] { return QueryValue(prom_port, "smetsmon_events_accepted_total") == expected; },
            60'000);
        accepted = QueryValue(prom_port, "smetsmon_events_accepted_total");
        duplicates = QueryValue(prom_port, "smetsmon_events_duplicate_total");
        consumed = QueryValue(prom_port, "smetsmon_kafka_consumed_messages_total");
        rejected = QueryValue(prom_port, "sum(smetsmon_events_rejected_total)");
        gonogo = QueryValue(prom_port, "smetsmon_gonogo_status{criterion=\"overall\"}");
        for (const auto& [category, n] : truth.alerts_by_category) {
          alerts_by_category[category] =
              QueryValue(prom_port, "sum(smetsmon_alerts_total{category=\"" + category + "\"})");
        }
      }
      std::ifstream log(dir + "/prometheus.log");
      prometheus_log.assign(std::istreambuf_iterator<char>(log), {});
      ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_TRUE(applied);
  ASSERT_TRUE(prometheus_started);
  EXPECT_EQ(accepted, static_cast<double>(truth.unique_valid)) << prometheus_log;
  EXPECT_EQ(duplicates, static_cast<double>(truth.duplicates));
  EXPECT_EQ(consumed, static_cast<double>(truth.lines));
  EXPECT_EQ(rejected, static_cast<double>(truth.lines - truth.valid));
  ASSERT_FALSE(truth.alerts_by_category.empty());
  for (const auto& [category, n] : truth.alerts_by_category) {
    EXPECT_EQ(alerts_by_category[category], static_cast<double>(n)) << category;
  }
  EXPECT_GE(gonogo, 0);  // the rules' series are scraped too (0 green .. 3 unknown)
  EXPECT_LE(gonogo, 3);
}

}  // namespace
}  // namespace smetsmon::app
