// The daemon's /metrics text, with the rules on and a day of generated traffic applied, passes
// `promtool check metrics` (the real Prometheus package's linter) and stays within the written
// cardinality budget.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "aggregate/engine.h"
#include "decode/decoder.h"
#include "gen/generator.h"
#include "metrics/config_metrics.h"
#include "metrics/daemon_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/rules_metrics.h"
#include "metrics/webhook_metrics.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"
#include "webhook/config.h"

namespace smetsmon::metrics {
namespace {

testing::CommandResult Shell(const std::string& cmd) { return testing::RunCommand(cmd + " 2>&1"); }

// True if `s` holds 8 hex octets joined by '-' (a device id), wherever.
bool HasDeviceIdLike(const std::string& s) {
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i + 23 <= s.size(); ++i) {
    bool ok = true;
    for (size_t k = 0; k < 23 && ok; ++k) ok = k % 3 == 2 ? s[i + k] == '-' : hex(s[i + k]);
    if (ok) return true;
  }
  return false;
}

// Every "smetsmon_[a-z0-9_]+" token in `text` (metric names; not recording rules "smetsmon:").
std::vector<std::string> SmetsmonNames(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = text.find("smetsmon_"); at != std::string::npos;
       at = text.find("smetsmon_", at + 1)) {
    size_t end = at + 9;
    while (end < text.size() &&
           (std::islower(static_cast<unsigned char>(text[end])) ||
            std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '_')) {
      ++end;
    }
    if (end > at + 9) out.push_back(text.substr(at, end - at));  // not "smetsmon_*" in prose
    at = end - 1;
  }
  return out;
}

TEST(MetricsLintTest, PromtoolAcceptsEverySeriesAndTheBudgetHolds) {
  auto ref = testing::LoadTestReference();
  auto rules_config = rules::LoadRulesConfig(testing::ConfigDir() + "/rules.yaml", ref);
  ASSERT_TRUE(rules_config.ok()) << rules_config.status();
  const aggregate::FleetLayout layout(*ref.areas, *ref.catalogue, *ref.dmcs, *ref.cohorts);
  const aggregate::RuleInputsSetup setup =
      rules::BuildRuleInputsSetup(*rules_config, layout, 5 * kMsPerMinute);
  aggregate::EngineConfig ec;
  ec.workers = 2;
  ec.expected_devices = 1 << 16;
  ec.rule_inputs = &setup;
  aggregate::Engine engine(ref, ec);
  auto evaluator = rules::Evaluator::Create(engine, *rules_config);
  ASSERT_TRUE(evaluator.ok()) << evaluator.status();

  gen::GeneratorConfig traffic;
  traffic.premises = 5000;
  gen::Generator g(*ref.areas, *ref.catalogue, traffic);
  decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  const ProcessingTime now{4'000'000'000'000};
  g.Run([&](std::string_view line) {
    AlertEvent e;
    if (decoder.Decode(line, now, &e) == RejectReason::kNone) {
      engine.WorkerFor(e.device).Apply(e);
      (*evaluator)->Tick(engine.StreamTime());
    }
  });
  for (size_t w = 0; w < engine.worker_count(); ++w) engine.worker(w).PublishRuleInputs();
  (*evaluator)->Tick(engine.StreamTime(), /*force=*/true);
  ManualClock clock(now);
  DaemonMetrics daemon(engine, nullptr, clock);
  RulesMetrics rules(**evaluator);
  ProcessMetrics process;
  ConfigMetrics config;
  config.Record(ConfigMetrics::File::kRules, true);
  config.MarkLoaded(now);
  // The outputs' probe with two receivers and the Alertmanager sink (nothing sent: the families
  // and their labels are what is checked).
  const std::string spool = testing::TempPath("metrics-lint-spool");
  std::filesystem::remove_all(spool);
  auto webhooks_config = webhook::LoadWebhookConfig(
      YAML::Load("spool_dir: " + spool +
                 "\n"
                 "alertmanager: {url: 'http://127.0.0.1:1'}\n"
                 "receivers:\n"
                 "  - {name: ukpn, url: 'http://127.0.0.1:1/a', secret_env: HOME}\n"
                 "  - {name: npg, url: 'http://127.0.0.1:1/b', secret_env: HOME}\n"),
      "lint.yaml", *ref.areas);
  ASSERT_TRUE(webhooks_config.ok()) << webhooks_config.status();
  boost::asio::io_context io;
  auto sink = webhook::AlertmanagerSink::Create(*webhooks_config->alertmanager, "", *ref.areas, io);
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto dispatcher = webhook::Dispatcher::Create(*webhooks_config, *ref.areas, clock);
  ASSERT_TRUE(dispatcher.ok()) << dispatcher.status();
  WebhookMetrics outputs(dispatcher->get(), sink->get());
  const std::string text = RenderText({&daemon, &rules, &outputs, &process, &config});

  const std::string path = testing::TempPath("metrics.txt");
  testing::WriteFile(path, text);
  const testing::CommandResult lint = Shell("promtool check metrics < " + path);
  EXPECT_EQ(lint.exit_code, 0) << lint.out;
  EXPECT_EQ(lint.out, "") << lint.out;

  // Budget (docs/metrics.md): at most 20,000 series, no device id anywhere in a label.
  size_t series = 0;
  std::set<std::string> names;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    at = end == std::string::npos ? text.size() : end + 1;
    if (line.empty() || line[0] == '#') continue;
    ++series;
    names.insert(line.substr(0, line.find_first_of("{ ")));
    EXPECT_FALSE(HasDeviceIdLike(line)) << line;
    EXPECT_EQ(line.find("device_id="), std::string::npos) << line;
  }
  EXPECT_LE(series, 20000u);
  EXPECT_GT(series, 100u);  // the rules' families are there, with values
  // Every series the deploy assets (alerting rules, dashboards) use is one the daemon exports
  // (dashboards_test also runs every panel's expression against a real Prometheus).
  for (const char* asset :
       {"/deploy/prometheus/smetsmon.rules.yml", "/deploy/grafana/dashboards/gonogo.json",
        "/deploy/grafana/dashboards/dno.json", "/deploy/grafana/dashboards/delivery.json",
        "/deploy/grafana/dashboards/health.json"}) {
    std::ifstream in(std::string(SMETSMON_SOURCE_DIR) + asset);
    const std::string content((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(content.empty()) << asset;
    for (const std::string& used : SmetsmonNames(content)) {
      std::string name = used;
      if (name.rfind("smetsmon_kafka_", 0) == 0) continue;  // exported with Kafka (daemon test)
      if (name.rfind("smetsmon_dead_letter_", 0) == 0) continue;  // with Kafka too
      // Exported with a pipeline (checked against the running daemon in daemon_test).
      if (name.rfind("smetsmon_checkpoint_", 0) == 0) continue;
      if (name.rfind("smetsmon_pipeline_", 0) == 0) continue;
      if (name == "smetsmon_clock_disagreements_total") continue;
      // Exported by the HTTP server and with an inventory (dashboards_test runs these against
      // a real Prometheus scraping the daemon).
      if (name.rfind("smetsmon_http_", 0) == 0) continue;
      if (name.rfind("smetsmon_migration_", 0) == 0) continue;
      // Alert names the daemon's Alertmanager sink posts (named in inhibition and runbooks).
      if (name == "smetsmon_power_outage" || name == "smetsmon_storm" ||
          name == "smetsmon_comms_incident") {
        continue;
      }
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (names.count(name) == 0 && name.size() > std::strlen(suffix) &&
            name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0) {
          name.resize(name.size() - std::strlen(suffix));
        }
      }
      EXPECT_EQ(names.count(name), 1u) << asset << " uses " << used;
    }
  }
  for (const char* family :
       {"smetsmon_events_accepted_total", "smetsmon_gonogo_status", "smetsmon_findings_open",
        "smetsmon_whatif_stopped_alerts", "smetsmon_delivery_within_target_ratio",
        "smetsmon_delivery_csp_within_target_ratio", "smetsmon_delivery_latency_seconds_bucket",
        "smetsmon_noisy_devices", "smetsmon_alerts_total", "smetsmon_window_alerts",
        "smetsmon_webhook_deliveries_total", "smetsmon_webhook_queue_depth",
        "smetsmon_webhook_oldest_pending_age_seconds", "smetsmon_alertmanager_posts_total",
        "process_resident_memory_bytes", "process_cpu_seconds_total", "smetsmon_build_info"}) {
    EXPECT_EQ(names.count(family), 1u) << family;
  }
}

TEST(MetricsLintTest, DeployedPrometheusConfigAndRulesPassPromtool) {
  const std::string dir = std::string(SMETSMON_SOURCE_DIR) + "/deploy/prometheus";
  const testing::CommandResult rules = Shell("promtool check rules " + dir + "/smetsmon.rules.yml");
  EXPECT_EQ(rules.exit_code, 0) << rules.out;
  EXPECT_NE(rules.out.find("SUCCESS"), std::string::npos) << rules.out;
  const testing::CommandResult config = Shell("promtool check config " + dir + "/prometheus.yml");
  EXPECT_EQ(config.exit_code, 0) << config.out;
}

}  // namespace
}  // namespace smetsmon::metrics
