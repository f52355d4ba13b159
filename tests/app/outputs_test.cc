// The daemon's findings leaving it, against real peers: the real Alertmanager (Debian package
// `prometheus-alertmanager`) fed by the daemon's sink, whose own webhook reaches a local receiver;
// a DNO receiver that checks every HMAC and idempotency key; and a daemon killed (SIGKILL) with
// notifications pending for a receiver that is down, whose restart delivers them.
//
// Traffic is a generated day ending now (the daemon runs on the system clock here: Alertmanager
// and the dispatcher's backoff live in real time), sent through the mock Kafka cluster.
#include <gtest/gtest.h>

#include <cmath>

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "app/daemon.h"
#include "gen/generator.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"
#include "webhook/mini_json.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::app {
namespace {

using webhook::testing::Json;
using webhook::testing::JsonParser;
using webhook::testing::ReceivedRequest;
using webhook::testing::TestReceiver;

constexpr char kSecretEnv[] = "SMETSMON_OUTPUTS_TEST_SECRET";
constexpr char kSecret[] = "dno-shared-secret";
constexpr char kTopic[] = "smets.alerts";
// The longest wait for the daemon to get somewhere (read the backlog, judge it, notify): a
// ThreadSanitizer build beside another test on two cores runs it ten to twenty times slower than
// a release build. A test that passes never waits it out.
constexpr int kPatienceMs = 300'000;

// The `webhooks:` section: one DNO receiver wanting every area and kind (comms incidents apart,
// the default), short backoff, and optionally the Alertmanager sink.
std::string WebhooksYaml(const std::string& spool, uint16_t dno_port, uint16_t alertmanager_port) {
  std::string y = "spool_dir: " + spool +
                  "\n"
                  "external_url: http://127.0.0.1:9477\n"
                  "backoff: {initial: 100, max: 500}\n"
                  "receivers:\n"
                  "  - name: dno\n"
                  "    url: http://127.0.0.1:" +
                  std::to_string(dno_port) +
                  "/hook\n"
                  "    secret_env: " +
                  kSecretEnv + "\n";
  if (alertmanager_port != 0) {
    y += "alertmanager: {url: 'http://127.0.0.1:" + std::to_string(alertmanager_port) +
         "', resend_interval: 1s}\n";
  }
  return y;
}

Settings DaemonSettings(testing::MockKafka& kafka, const std::string& group,
                        const std::string& inventory) {
  auto settings = LoadSettings(testing::ConfigDir());
  EXPECT_TRUE(settings.ok()) << settings.status();
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["session.timeout.ms"] = "6000";
  settings->kafka.properties["group.id"] = group;
  settings->http_listen = "127.0.0.1:0";
  settings->inventory_path = inventory;
  return *settings;
}

// The finding id and status of a webhook request (Alertmanager v4 body, one alert).
std::pair<std::string, std::string> IdAndStatus(const ReceivedRequest& r) {
  auto body = JsonParser::Parse(r.body);
  if (!body || (*body)["alerts"].array.empty()) return {"", ""};
  return {(*body)["alerts"][0]["labels"]["finding_id"].string, (*body)["status"].string};
}

// (finding id, status) of every alert in Alertmanager webhook requests (its own, or ours).
std::set<std::pair<std::string, std::string>> FindingStatuses(
    const std::vector<ReceivedRequest>& requests) {
  std::set<std::pair<std::string, std::string>> out;
  for (const ReceivedRequest& r : requests) {
    auto body = JsonParser::Parse(r.body);
    if (!body) continue;
    for (const Json& a : (*body)["alerts"].array) {
      out.insert({a["labels"]["finding_id"].string, a["status"].string});
    }
  }
  return out;
}

// Waits, on the daemon's client thread, until the rules have evaluated everything applied and the
// outputs have caught up: the dispatcher has nothing pending and the sink told Alertmanager
// about every open finding. Returns the evaluation the outputs reflect; on a timeout, `*why` says
// what was still outstanding.
//
// A daemon on a manual clock (`clock`) gets the time a running one would have: the clock moves a
// second per poll, at most three minutes, so the idle stream's re-evaluation (once per second of
// processing time) judges messages read after the previous one (a redelivery after a rebalance,
// when a loaded machine misses the group's heartbeats). Three minutes stay within the idle lag
// the stream trails the clock by: the stream time, and so every window, stays where it was.
rules::RulesSnapshot WaitForOutputsToSettle(Daemon& d, bool* settled, std::string* why,
                                            ManualClock* clock = nullptr) {
  rules::RulesSnapshot snap;
  int64_t moved_ms = 0;
  *settled = testing::WaitUntil(
      [&] {
        snap = d.evaluator->Snapshot();
        // Every message read is judged by the last evaluation (the partitions of the backlog may
        // be read out of order: the idle stream's re-evaluation takes the last ones).
        const pipeline::PipelineStats ps = d.pipeline->stats();
        const size_t webhooks_pending = d.webhooks == nullptr ? 0 : d.webhooks->pending();
        bool sink_done = true;
        *why = absl::StrCat("messages submitted ", ps.messages_submitted, ", evaluated ",
                            ps.evaluated_messages, "; webhooks pending ", webhooks_pending);
        if (d.alertmanager != nullptr) {
          const auto am = d.alertmanager->stats();
          sink_done =
              am.firing == snap.open_findings.size() && am.pending_resolved == 0 && am.posts_ok > 0;
          absl::StrAppend(why, "; alertmanager firing ", am.firing, " of ",
                          snap.open_findings.size(), " open, resolved pending ",
                          am.pending_resolved, ", posts ok ", am.posts_ok);
        }
        if (ps.messages_submitted == 0 || ps.evaluated_messages != ps.messages_submitted) {
          // Only once all read is applied: the time a daemon that has caught up sits idle.
          if (clock != nullptr && ps.messages_applied == ps.messages_submitted &&
              moved_ms < 3 * kMsPerMinute) {
            clock->Advance(1000);
            moved_ms += 1000;
          }
          return false;
        }
        return webhooks_pending == 0 && sink_done;
      },
      kPatienceMs, 50);
  return snap;
}

TEST(OutputsTest, FindingsReachAlertmanagerAndTheDnoReceiverSigned) {
  ::setenv(kSecretEnv, kSecret, 1);
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string dir = webhook::testing::FreshDir("outputs-am");
  const std::vector<std::string> lines =
      testing::ProduceDayEndingNow(kafka, ref, 20000, kTopic, dir + "/inventory.csv").lines;

  // Alertmanager, routing every alert (one group per finding) to its own webhook receiver.
  TestReceiver am_hook;
  ASSERT_TRUE(am_hook.Start());
  const uint16_t am_port = testing::FreePort();
  testing::WriteFile(dir + "/alertmanager.yml",
                     "route:\n"
                     "  receiver: hook\n"
                     "  group_by: [finding_id]\n"
                     "  group_wait: 0s\n"
                     "  group_interval: 1s\n"
                     "  repeat_interval: 1h\n"
                     "receivers:\n"
                     "  - name: hook\n"
                     "    webhook_configs:\n"
                     "      - url: " +
                         am_hook.Url("/am-hook") + "\n        send_resolved: true\n");
  testing::ChildProcess alertmanager(
      "prometheus-alertmanager",
      {"--config.file=" + dir + "/alertmanager.yml", "--storage.path=" + dir + "/am-data",
       "--web.listen-address=127.0.0.1:" + std::to_string(am_port), "--cluster.listen-address="},
      dir + "/alertmanager.log");
  ASSERT_TRUE(alertmanager.started());
  ASSERT_TRUE(testing::WaitUntil([&] { return testing::HttpGet(am_port, "/-/ready").first == 200; },
                                 30'000))
      << "alertmanager did not become ready; see " << dir << "/alertmanager.log";

  TestReceiver dno;
  ASSERT_TRUE(dno.Start());
  Settings settings = DaemonSettings(kafka, "outputs-am", dir + "/inventory.csv");
  settings.webhooks = YAML::Load(WebhooksYaml(dir + "/spool", dno.port(), am_port));
  // Rules from a copy of the config, so the test can change them and reload (SIGHUP).
  std::filesystem::create_directories(dir + "/config");
  for (const char* file : {"areas.yaml", "alert_catalogue.yaml", "rules.yaml"}) {
    std::filesystem::copy_file(testing::ConfigDir() + "/" + file, dir + "/config/" + file);
  }
  settings.reference.config_dir = dir + "/config";
  DaemonHooks hooks;
  hooks.outputs_interval_ms = 50;

  bool applied = false;
  rules::RulesSnapshot snap;
  std::vector<rules::Finding> open_before_reload;
  std::map<std::string, bool> waited;  // each wait of the client thread, and whether it succeeded
  std::string outstanding;             // what the last wait to settle was still waiting for
  std::string am_alerts;               // GET /api/v2/alerts once every open finding is there
  std::string metrics;                 // GET /metrics at the end
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t http_port) {
    // The thread outlives this call: it keeps the daemon's address, not the reference parameter.
    client = std::thread([&, daemon = &d, http_port] {
      applied = daemon->ingest->WaitForApplied(lines.size(), kPatienceMs);
      snap = WaitForOutputsToSettle(*daemon, &waited["settled"], &outstanding);
      std::set<std::string> open_ids;
      for (const rules::Finding& f : snap.open_findings) open_ids.insert(f.id);
      waited["firing in alertmanager"] = testing::WaitUntil(
          [&] {
            am_alerts = testing::HttpGet(am_port, "/api/v2/alerts?active=true").second;
            auto listed = JsonParser::Parse(am_alerts);
            if (!listed) return false;
            // Each open finding there in its latest state (the sink re-sends each second).
            std::map<std::string, std::string> in_alertmanager;  // id -> description
            for (const Json& a : listed->array) {
              in_alertmanager[a["labels"]["finding_id"].string] =
                  a["labels"]["severity"].string + " " + a["annotations"]["description"].string;
            }
            for (const rules::Finding& f : snap.open_findings) {
              const auto it = in_alertmanager.find(f.id);
              if (it == in_alertmanager.end() ||
                  it->second !=
                      std::string(rules::SeverityName(f.severity)) + " " + f.explanation) {
                return false;
              }
            }
            const auto hooked = FindingStatuses(am_hook.requests());
            for (const std::string& id : open_ids) {
              if (hooked.count({id, "firing"}) == 0) return false;
            }
            return true;
          },
          kPatienceMs);
      // An operator raises the DNO flood threshold far above the day's counts and reloads: the
      // flood findings close, and every route reports them resolved.
      std::ifstream in(dir + "/config/rules.yaml");
      std::string rules((std::istreambuf_iterator<char>(in)), {});
      const size_t at = rules.find("threshold_per_day: 2000}");
      if (at == std::string::npos) return daemon->ingest->Stop();
      rules.replace(at, 24, "threshold_per_day: 100000000}");
      testing::WriteFile(dir + "/config/rules.yaml", rules);
      open_before_reload = snap.open_findings;
      ::raise(SIGHUP);
      // Not just "a flood is closed": floods of the day closed by themselves before the reload.
      waited["closed by reload"] = testing::WaitUntil(
          [&] {
            const rules::RulesSnapshot now = daemon->evaluator->Snapshot();
            for (const rules::Finding& f : now.open_findings) {
              if (f.kind == rules::FindingKind::kDnoFlood) return false;
            }
            for (const rules::Finding& f : now.closed_findings) {
              if (f.kind == rules::FindingKind::kDnoFlood) return true;
            }
            return false;
          },
          kPatienceMs, 50);
      snap = WaitForOutputsToSettle(*daemon, &waited["settled after reload"], &outstanding);
      waited["resolved via alertmanager"] = testing::WaitUntil(
          [&] {
            // The floods the reload closed (those open before it): they had fired.
            for (const rules::Finding& f : open_before_reload) {
              if (f.kind != rules::FindingKind::kDnoFlood) continue;
              if (FindingStatuses(am_hook.requests()).count({f.id, "resolved"}) == 0) return false;
            }
            return true;
          },
          kPatienceMs);
      metrics = testing::HttpGet(http_port, "/metrics").second;
      daemon->ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_TRUE(applied);
  // The outputs' counters of what a restart would hold back are exported (a first start: nothing
  // restored, nothing held).
  EXPECT_GE(
      testing::MetricValue(metrics, "smetsmon_webhook_refires_ignored_total{receiver=\"dno\"}"), 0);
  EXPECT_GE(testing::MetricValue(metrics, "smetsmon_alertmanager_refires_ignored_total"), 0);
  EXPECT_EQ(testing::MetricValue(metrics, "smetsmon_alertmanager_held_alerts"), 0);
  ASSERT_EQ(waited.size(), 5u);
  for (const auto& [what, ok] : waited) EXPECT_TRUE(ok) << what << " (" << outstanding << ")";
  // The generated day leaves findings open at its end, among them DNO floods.
  ASSERT_FALSE(open_before_reload.empty());
  ASSERT_FALSE(am_alerts.empty());
  // After the reload the floods are closed and reported resolved by Alertmanager's webhook.
  ASSERT_FALSE(snap.closed_findings.empty());
  const std::set<std::pair<std::string, std::string>> am_statuses =
      FindingStatuses(am_hook.requests());
  std::set<std::string> open_at_reload;
  for (const rules::Finding& f : open_before_reload) open_at_reload.insert(f.id);
  size_t floods_closed = 0;
  for (const rules::Finding& f : snap.closed_findings) {
    // The floods open at the reload fired and were closed by it. Findings of the backlog that
    // opened and closed before the sink's next post (how soon depends on the machine's load)
    // may never have fired in Alertmanager: they are not this test's claim.
    if (f.kind != rules::FindingKind::kDnoFlood || open_at_reload.count(f.id) == 0) continue;
    ++floods_closed;
    EXPECT_EQ(am_statuses.count({f.id, "firing"}), 1u) << f.id;
    EXPECT_EQ(am_statuses.count({f.id, "resolved"}), 1u) << f.id;
  }
  EXPECT_GT(floods_closed, 0u);

  // Alertmanager holds every open finding as an active alert with the expected labels.
  auto alerts = JsonParser::Parse(am_alerts);
  ASSERT_TRUE(alerts && alerts->is_array()) << am_alerts;
  std::map<std::string, Json> by_id;
  for (const Json& a : alerts->array) by_id[a["labels"]["finding_id"].string] = a;
  for (const rules::Finding& f : open_before_reload) {
    ASSERT_EQ(by_id.count(f.id), 1u) << f.id << " not in Alertmanager: " << am_alerts;
    const Json& a = by_id[f.id];
    EXPECT_EQ(a["labels"]["alertname"].string,
              std::string("smetsmon_") + rules::FindingKindName(f.kind));
    EXPECT_EQ(a["labels"]["severity"].string, rules::SeverityName(f.severity));
    if (f.area != kUnknownArea) {
      EXPECT_EQ(a["labels"]["area"].string, ref.areas->area(f.area).name) << f.id;
    }
    EXPECT_EQ(a["status"]["state"].string, "active");
    EXPECT_EQ(a["annotations"]["description"].string, f.explanation);
  }

  // The DNO receiver: every request signed with the shared secret, no idempotency key twice,
  // and every finding but comms incidents (which it did not ask for) reported in its last state.
  std::set<std::string> keys;
  std::map<std::string, std::string> last_status;
  for (const ReceivedRequest& r : dno.requests()) {
    EXPECT_EQ(r.Header("x-smetsmon-signature"),
              webhook::testing::ExpectedSignature(kSecret, r.body));
    EXPECT_TRUE(keys.insert(r.Header("idempotency-key")).second) << r.Header("idempotency-key");
    const auto [id, status] = IdAndStatus(r);
    last_status[id] = status;
  }
  std::map<std::string, std::string> expected;
  for (const rules::Finding& f : snap.open_findings) {
    if (f.kind != rules::FindingKind::kCommsIncident) expected[f.id] = "firing";
  }
  for (const rules::Finding& f : snap.closed_findings) {
    if (f.kind != rules::FindingKind::kCommsIncident) expected[f.id] = "resolved";
  }
  EXPECT_EQ(last_status, expected);
}

TEST(OutputsTest, NotificationsPendingWhenTheDaemonIsKilledAreDeliveredAfterARestart) {
  ::setenv(kSecretEnv, kSecret, 1);
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string dir = webhook::testing::FreshDir("outputs-kill");
  const std::vector<std::string> lines =
      testing::ProduceDayEndingNow(kafka, ref, 20000, kTopic, dir + "/inventory.csv").lines;

  // The daemon as its own process (so it can be killed), with its config in `dir`; the receiver's
  // port is reserved but nothing listens: the DNO is down.
  const uint16_t dno_port = testing::FreePort();
  const uint16_t http_port = testing::FreePort();
  for (const char* file : {"areas.yaml", "alert_catalogue.yaml", "rules.yaml"}) {
    std::filesystem::copy_file(testing::ConfigDir() + "/" + file, dir + "/" + file);
  }
  std::string settings_yaml = "kafka:\n  bootstrap.servers: " + kafka.bootstraps() +
                              "\n  group.id: outputs-kill\n  session.timeout.ms: 6000\n"
                              "http: {listen: '127.0.0.1:" +
                              std::to_string(http_port) +
                              "'}\n"
                              "inventory: {path: " +
                              dir +
                              "/inventory.csv}\n"
                              "webhooks:\n";
  for (absl::string_view line : absl::StrSplit(WebhooksYaml(dir + "/spool", dno_port, 0), '\n')) {
    if (!line.empty()) absl::StrAppend(&settings_yaml, "  ", line, "\n");
  }
  testing::WriteFile(dir + "/smetsmon.yaml", settings_yaml);

  auto metric = [&](const std::string& series) {
    return testing::MetricValue(testing::HttpGet(http_port, "/metrics").second, series);
  };
  std::set<std::string> pending_keys;
  {
    testing::ChildProcess daemon(SMETSMON_BINARY, {"run", "--config", dir + "/smetsmon.yaml"},
                                 dir + "/daemon-1.log");
    ASSERT_TRUE(daemon.started());
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          return metric("smetsmon_kafka_applied_messages_total") ==
                 static_cast<double>(lines.size());
        },
        kPatienceMs))
        << "see " << dir << "/daemon-1.log";
    // The rules evaluated everything applied, up to the last whole minute the stream reached
    // (their grid); then the spool holds what is pending.
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          return metric("smetsmon_rules_evaluated_timestamp_seconds") ==
                 std::floor(metric("smetsmon_stream_time_seconds") / 60) * 60;
        },
        kPatienceMs));
    // The findings reach the dispatcher just after their evaluation: wait until some are queued
    // (the DNO is down, so they stay) and every queued one is in the spool.
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          const double depth = metric("smetsmon_webhook_queue_depth{receiver=\"dno\"}");
          return depth > 0 &&
                 depth ==
                     static_cast<double>(webhook::testing::FilesIn(dir + "/spool", ".ntf").size());
        },
        kPatienceMs));
    daemon.Kill(SIGKILL);
    for (const std::string& f : webhook::testing::FilesIn(dir + "/spool", ".ntf")) {
      pending_keys.insert(f.substr(0, f.size() - 4));
    }
  }
  ASSERT_FALSE(pending_keys.empty());

  // The DNO comes back; the daemon restarts (in this process) and delivers what was pending.
  TestReceiver dno;
  ASSERT_TRUE(dno.Start(dno_port));
  auto settings = LoadSettings(dir + "/smetsmon.yaml");
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->http_listen = "127.0.0.1:0";
  DaemonHooks hooks;
  hooks.outputs_interval_ms = 50;
  std::thread client;
  bool delivered = false;
  auto keys_received = [&] {
    std::map<std::string, int> keys;
    for (const ReceivedRequest& r : dno.requests()) ++keys[r.Header("idempotency-key")];
    return keys;
  };
  hooks.on_started = [&](Daemon& d, uint16_t) {
    // The thread outlives this call: it keeps the daemon's address, not the reference parameter.
    client = std::thread([&, daemon = &d] {
      delivered = testing::WaitUntil(
          [&] {
            const auto keys = keys_received();
            for (const std::string& k : pending_keys) {
              if (keys.count(k) == 0) return false;
            }
            return true;
          },
          kPatienceMs);
      daemon->ingest->Stop();
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  client.join();
  ASSERT_TRUE(run.ok()) << run;
  EXPECT_TRUE(delivered);
  const auto keys = keys_received();
  for (const std::string& k : pending_keys) {
    ASSERT_EQ(keys.count(k), 1u) << k;
    EXPECT_EQ(keys.at(k), 1) << k;  // delivered once
  }
  for (const ReceivedRequest& r : dno.requests()) {
    EXPECT_EQ(r.Header("x-smetsmon-signature"),
              webhook::testing::ExpectedSignature(kSecret, r.body));
  }
}

TEST(OutputsTest, ARestartWithFindingsOpenPagesNobodyAgainAndStillSendsTheirResolved) {
  ::setenv(kSecretEnv, kSecret, 1);
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string dir = webhook::testing::FreshDir("outputs-restart");
  const testing::ProducedTraffic produced =
      testing::ProduceTraffic(kafka, ref, 20000, 30, kTopic, dir + "/inventory.csv");
  TestReceiver dno;
  ASSERT_TRUE(dno.Start());
  Settings settings = DaemonSettings(kafka, "outputs-restart", dir + "/inventory.csv");
  settings.webhooks = YAML::Load(WebhooksYaml(dir + "/spool", dno.port(), 0));
  settings.checkpoint_path = dir + "/state.ckpt";
  // The traffic's last minute, then the wall clock of the second start two days later: its idle
  // stream advances past every window and the open findings close.
  ManualClock clock(ProcessingTime{produced.truth.last_event_ms + kMsPerMinute});
  DaemonHooks hooks;
  hooks.clock = &clock;
  hooks.outputs_interval_ms = 50;
  const auto firing_ids = [&] {
    std::map<std::string, int> n;
    for (const ReceivedRequest& r : dno.requests()) {
      const auto [id, status] = IdAndStatus(r);
      if (status == "firing") ++n[id];
    }
    return n;
  };

  // First run: everything read and judged, the receiver told of what is open; a graceful stop.
  std::set<std::string> open_at_stop;
  bool settled = false;
  std::string outstanding;
  std::thread client;
  hooks.on_started = [&](Daemon& d, uint16_t) {
    client = std::thread([&, daemon = &d] {
      const rules::RulesSnapshot snap =
          WaitForOutputsToSettle(*daemon, &settled, &outstanding, &clock);
      for (const rules::Finding& f : snap.open_findings) open_at_stop.insert(f.id);
      daemon->ingest->Stop();
    });
  };
  ASSERT_TRUE(RunDaemon(settings, hooks).ok());
  client.join();
  ASSERT_TRUE(settled) << outstanding;
  const std::map<std::string, int> told_before = firing_ids();
  std::set<std::string> told_open;  // open at the stop, and told to the receiver
  for (const std::string& id : open_at_stop) {
    if (told_before.count(id) != 0) told_open.insert(id);
  }
  ASSERT_FALSE(told_open.empty()) << "no finding open at the stop was sent to the receiver";
  const size_t requests_before = dno.requests().size();

  // Second run, two days later: the findings come back open from the checkpoint, nobody is paged
  // for them again, and each gets its resolved when the idle stream closes it.
  clock.Advance(2 * kMsPerDay);
  bool closed = false;
  hooks.on_started = [&](Daemon& d, uint16_t) {
    client = std::thread([&, daemon = &d] {
      closed = testing::WaitUntil(
          [&] {
            const rules::RulesSnapshot snap = daemon->evaluator->Snapshot();
            for (const rules::Finding& f : snap.open_findings) {
              if (told_open.count(f.id) != 0) return false;
            }
            return daemon->webhooks->pending() == 0;
          },
          kPatienceMs, 50);
      daemon->ingest->Stop();
    });
  };
  ASSERT_TRUE(RunDaemon(settings, hooks).ok());
  client.join();
  ASSERT_TRUE(closed);
  std::map<std::string, int> firing_after, resolved_after, final_after;
  const std::vector<ReceivedRequest> requests = dno.requests();
  for (size_t i = requests_before; i < requests.size(); ++i) {
    const auto [id, status] = IdAndStatus(requests[i]);
    // A power cut's final-tally update: after its resolved, or instead of it when it superseded
    // the resolved before delivery.
    if (requests[i].body.find("\"finalTally\":true") != std::string::npos) {
      ++final_after[id];
      continue;
    }
    ++(status == "firing" ? firing_after : resolved_after)[id];
  }
  for (const std::string& id : told_open) {
    EXPECT_EQ(firing_after.count(id), 0u) << id << " paged again after the restart";
    EXPECT_EQ(resolved_after[id] > 0 ? resolved_after[id] : final_after[id], 1)
        << id << " not resolved exactly once";
    EXPECT_LE(final_after[id], 1) << id << " final tally sent twice";
  }
}

}  // namespace
}  // namespace smetsmon::app
