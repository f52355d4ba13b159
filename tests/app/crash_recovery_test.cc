// A restart is routine: the real daemon, killed with SIGKILL at random moments (once while it
// writes a checkpoint) and restarted each time, ends with exactly the counts of the traffic it
// read (accepted, duplicates, late, rejected by reason), the same cumulative alert totals and the
// same findings as a daemon that ran through without a stop.
//
// The broker is librdkafka's mock cluster in this process; the daemons are child processes
// (`smetsmon run`), so a kill is a real crash: nothing flushed, no revoke, no commit.
// Two streams: one partition of about 100 000 lines (the mock cluster keeps at most 5 MiB of
// compressed batches per partition) and four of a few hundred thousand. On four partitions the
// daemon's answers hold only because it merges the partitions in event-time order
// (ingest/event_time_merge.h) from wherever each run resumes: read in arrival order, the stream
// time an event meets, and with it the late counts and the findings, would differ from run to run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gen/generator.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/net.h"
#include "testing/traffic.h"
#include "webhook/mini_json.h"
#include "webhook/test_receiver.h"

namespace smetsmon {
namespace {

// A config directory for one daemon: the project's reference files and a smetsmon.yaml of its
// own (group, checkpoint, HTTP port).
constexpr char kSecretEnv[] = "SMETSMON_CRASH_TEST_SECRET";

std::string WriteConfig(const std::string& name, const std::string& bootstraps,
                        const std::string& inventory, uint16_t port, uint16_t dno_port) {
  const std::string dir = testing::TempPath("crash_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* f : {"areas.yaml", "alert_catalogue.yaml", "rules.yaml"}) {
    std::filesystem::copy_file(testing::ConfigDir() + "/" + f, dir + "/" + f);
  }
  testing::WriteFile(
      dir + "/smetsmon.yaml",
      absl::StrCat("kafka:\n"
                   "  topic: smets.alerts\n"
                   "  dead_letter_topic: smets.alerts.dlq\n"
                   "  bootstrap.servers: \"",
                   bootstraps, "\"\n  group.id: ", name, "\n  group.instance.id: ", name,
                   "-1\n"
                   // A killed member holds its partitions until its session times out (the mock
                   // cluster then rebalances): each restart waits about this long.
                   "  session.timeout.ms: 3000\n"
                   "  heartbeat.interval.ms: 500\n"
                   "engine:\n"
                   "  workers: 2\n"
                   "  dedup_horizon: 7d\n"
                   // Sized for the stream (a few hundred thousand ids and devices, a quarter of
                   // the filter's ways), not the nation: seven daemon starts and a checkpoint
                   // every 200 ms would otherwise fault in and write 384 MiB each time.
                   "  dedup_capacity: 1048576\n"
                   "  expected_devices: 262144\n"
                   "http:\n"
                   "  listen: 127.0.0.1:",
                   port, "\ncheckpoint:\n  path: ", dir,
                   "/state.ckpt\n"
                   "  interval: 200ms\n"
                   "inventory:\n  path: ",
                   inventory, "\nwebhooks:\n  spool_dir: ", dir,
                   "/spool\n"
                   "  backoff: {initial: 100, max: 500}\n"
                   "  receivers:\n"
                   "    - name: dno\n"
                   "      url: http://127.0.0.1:",
                   dno_port, "/hook\n      secret_env: ", kSecretEnv, "\n"));
  return dir;
}

struct Daemon {
  Daemon(const std::string& dir, uint16_t port, int run)
      : port(port),
        process(SMETSMON_BINARY, {"run", "--config", dir}, absl::StrCat(dir, "/run", run, ".log")) {
  }
  std::string Metrics() const { return testing::HttpGet(port, "/metrics").second; }
  double Metric(const std::string& series) const { return testing::MetricValue(Metrics(), series); }
  uint16_t port;
  testing::ChildProcess process;
};

// Every count the daemon reports about the traffic, as "series value" lines (after a newline,
// as testing::MetricValue reads them).
std::string Counts(const std::string& metrics) {
  std::string out = "\n";
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    for (const char* family : {"smetsmon_events_accepted_total", "smetsmon_events_duplicate_total",
                               "smetsmon_events_rejected_total", "smetsmon_events_late_total",
                               "smetsmon_alerts_total", "smetsmon_devices "}) {
      if (line.rfind(family, 0) == 0) absl::StrAppend(&out, line, "\n");
    }
  }
  return out;
}

std::set<std::string> FindingIds(const std::string& json) {
  std::set<std::string> ids;
  static const std::regex kId(R"re("id":"([a-z_]+:[^"]*)")re");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), kId); it != std::sregex_iterator();
       ++it) {
    ids.insert((*it)[1]);
  }
  return ids;
}

struct Outcome {
  std::string counts;
  std::set<std::string> findings;
};

// (finding id, status) of every notification a receiver got, with the distinct idempotency keys
// it came with (a delivery repeated after a crash between the receiver's answer and the spool
// file's removal carries the same key: a receiver deduplicating on it sees it once).
std::map<std::pair<std::string, std::string>, std::set<std::string>> Notifications(
    const webhook::testing::TestReceiver& r) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> out;
  for (const webhook::testing::ReceivedRequest& req : r.requests()) {
    auto body = webhook::testing::JsonParser::Parse(req.body);
    if (!body || (*body)["alerts"].array.empty()) continue;
    // A power cut's final-tally update is a second "resolved" of its finding, under its own key.
    const bool final_tally = body->Has("finalTally") && (*body)["finalTally"].boolean;
    out[{(*body)["alerts"][0]["labels"]["finding_id"].string,
         final_tally ? "final_tally" : (*body)["status"].string}]
        .insert(req.Header("idempotency-key"));
  }
  return out;
}

// Waits until the daemon's webhook queue is empty (everything told is delivered).
bool WaitForDeliveries(const Daemon& d) {
  return testing::WaitUntil(
      [&] { return d.Metric("smetsmon_webhook_queue_depth{receiver=\"dno\"}") == 0; }, 60'000, 50);
}

// Lines counted so far: accepted, duplicates and rejected.
double Counted(const Daemon& d) {
  const std::string m = d.Metrics();
  double rejected = 0;
  std::istringstream in(m);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("smetsmon_events_rejected_total{", 0) == 0) {
      rejected += std::atof(line.c_str() + line.rfind(' ') + 1);
    }
  }
  return testing::MetricValue(m, "smetsmon_events_accepted_total") +
         testing::MetricValue(m, "smetsmon_events_duplicate_total") + rejected;
}

// Waits for a daemon to have counted every line.
bool WaitForAll(const Daemon& d, const gen::GeneratedTruth& truth) {
  return testing::WaitUntil([&] { return Counted(d) >= static_cast<double>(truth.lines); }, 120'000,
                            50);
}

// Once the stream has gone idle and the rules have judged it up to now (the idle advance moves the
// stream time to the wall clock, years after the traffic): the counts and every finding.
Outcome Observe(const Daemon& d, const gen::GeneratedTruth& truth) {
  std::string findings;
  const bool judged = testing::WaitUntil(
      [&] {
        findings = testing::HttpGet(d.port, "/api/v1/findings").second;
        const size_t at = findings.find("\"evaluated_at_ms\":");
        return at != std::string::npos &&
               std::atoll(findings.c_str() + at + 18) > truth.last_event_ms + kMsPerDay;
      },
      60'000, 50);
  EXPECT_TRUE(judged) << findings.substr(0, 200);
  return {Counts(d.Metrics()), FindingIds(findings)};
}

void KillAndRestart(int partitions, uint64_t premises, uint64_t min_lines) {
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  const std::string inventory = testing::TempPath("crash-inventory.csv");
  gen::GeneratorConfig traffic;
  traffic.premises = premises;
  traffic.duration_ms = 30 * kMsPerHour;
  const testing::ProducedTraffic produced = testing::ProduceGenerated(
      kafka, ref, traffic, "smets.alerts", partitions, inventory, testing::Partitioning::kByDevice);
  const gen::GeneratedTruth& truth = produced.truth;
  ASSERT_GT(truth.lines, min_lines);
  ASSERT_GT(truth.duplicates, 0u);
  ASSERT_GT(truth.late, 0u);
  ASSERT_FALSE(truth.rejected.empty());

  ::setenv(kSecretEnv, "crash-test-secret", 1);
  webhook::testing::TestReceiver reference_dno, crashing_dno;
  ASSERT_TRUE(reference_dno.Start());
  ASSERT_TRUE(crashing_dno.Start());

  // The reference: one daemon from start to end.
  Outcome reference;
  {
    const uint16_t port = testing::FreePort();
    const std::string dir =
        WriteConfig("reference", kafka.bootstraps(), inventory, port, reference_dno.port());
    Daemon d(dir, port, 0);
    ASSERT_TRUE(WaitForAll(d, truth)) << Counts(d.Metrics());
    reference = Observe(d, truth);
    EXPECT_TRUE(WaitForDeliveries(d));
    EXPECT_EQ(d.process.Kill(SIGTERM), 0);
  }
  ASSERT_FALSE(reference.findings.empty());
  EXPECT_EQ(testing::MetricValue(reference.counts, "smetsmon_events_accepted_total"),
            static_cast<double>(truth.unique_valid));

  // The crashing one: killed five times, each at a random count of lines applied since its start
  // (one of them while a checkpoint is being written), and restarted.
  const uint16_t port = testing::FreePort();
  const std::string dir =
      WriteConfig("crashing", kafka.bootstraps(), inventory, port, crashing_dno.port());
  std::mt19937_64 rng(20261203);
  int kills = 0, kills_during_write = 0;
  for (int run = 0; run < 5; ++run) {
    Daemon d(dir, port, run + 1);
    // Each run makes progress: it checkpoints what it read at least once (a checkpoint is taken
    // only when something was applied since the last), then dies a random number of lines later,
    // or (run 2) while its next checkpoint's temporary file is being written.
    const auto all_counted = [&] { return Counted(d) >= static_cast<double>(truth.lines); };
    ASSERT_TRUE(testing::WaitUntil(
        [&] { return d.Metric("smetsmon_checkpoint_written_total") >= 1 || all_counted(); }, 60'000,
        5))
        << "run " << run << " never checkpointed";
    if (run == 2) {
      if (testing::WaitUntil([&] { return std::filesystem::exists(dir + "/state.ckpt.tmp"); },
                             60'000, 1)) {
        ++kills_during_write;
      }
    } else {
      const double at = d.Metric("smetsmon_kafka_applied_messages_total") +
                        std::uniform_real_distribution<double>(0, 20'000)(rng);
      testing::WaitUntil(
          [&] { return d.Metric("smetsmon_kafka_applied_messages_total") >= at || all_counted(); },
          60'000, 5);
    }
    EXPECT_EQ(d.process.Kill(SIGKILL), SIGKILL) << "run " << run << " ended on its own";
    ++kills;
  }
  EXPECT_EQ(kills, 5);
  EXPECT_EQ(kills_during_write, 1) << "no checkpoint write was caught in the act";
  Daemon last(dir, port, 6);
  ASSERT_TRUE(WaitForAll(last, truth)) << Counts(last.Metrics());
  const Outcome crashed = Observe(last, truth);
  // Exactly the traffic's truth...
  EXPECT_EQ(testing::MetricValue(crashed.counts, "smetsmon_events_accepted_total"),
            static_cast<double>(truth.unique_valid));
  EXPECT_EQ(testing::MetricValue(crashed.counts, "smetsmon_events_duplicate_total"),
            static_cast<double>(truth.duplicates));
  for (const auto& [reason, n] : truth.rejected) {
    EXPECT_EQ(testing::MetricValue(crashed.counts,
                                   "smetsmon_events_rejected_total{reason=\"" + reason + "\"}"),
              static_cast<double>(n))
        << reason;
  }
  // ...and exactly what the daemon that never stopped says: every count, total and finding.
  {
    EXPECT_EQ(crashed.counts, reference.counts);
    EXPECT_EQ(crashed.findings, reference.findings);
    EXPECT_EQ(testing::MetricValue(crashed.counts, "smetsmon_events_late_total{window=\"24h\"}"),
              static_cast<double>(truth.late));
    // The DNO was told what the DNO of the daemon that never stopped was told: every finding
    // that fired, and its resolved exactly once (a kill between a close and its delivery still
    // delivers it: the spool; one before the close re-derives it: the checkpoint).
    ASSERT_TRUE(WaitForDeliveries(last));
    const auto told_reference = Notifications(reference_dno);
    const auto told_crashing = Notifications(crashing_dno);
    std::set<std::pair<std::string, std::string>> ref_pairs, crash_pairs;
    for (const auto& [pair, keys] : told_reference) ref_pairs.insert(pair);
    for (const auto& [pair, keys] : told_crashing) crash_pairs.insert(pair);
    EXPECT_EQ(crash_pairs, ref_pairs);
    int resolved = 0;
    for (const auto& [pair, keys] : told_crashing) {
      if (pair.second == "resolved") {
        EXPECT_EQ(keys.size(), 1u) << pair.first << " resolved under " << keys.size() << " keys";
        EXPECT_EQ(keys, told_reference.at(pair))
            << pair.first << ": another key than the reference's";
        ++resolved;
      }
    }
    EXPECT_GT(resolved, 0);
  }
  // The checkpoint was read at every restart, never refused.
  const std::string m = last.Metrics();
  EXPECT_EQ(testing::MetricValue(m, "smetsmon_checkpoint_restore_refused_total"), 0) << m;
  EXPECT_EQ(last.process.Kill(SIGTERM), 0);
}

TEST(CrashRecoveryTest, OnePartitionKilledFiveTimesEndsAsTheRunThatNeverStopped) {
  KillAndRestart(/*partitions=*/1, /*premises=*/25'000, /*min_lines=*/90'000);
}

TEST(CrashRecoveryTest, FourPartitionsKilledFiveTimesEndAsTheRunThatNeverStopped) {
  KillAndRestart(/*partitions=*/4, /*premises=*/70'000, /*min_lines=*/250'000);
}

}  // namespace
}  // namespace smetsmon
