// smetsmon mock-kafka: librdkafka's built-in mock cluster as a process of its own, so that
// `smetsmon run`, `smetsmon-loadgen` and tests can be started, stopped and killed independently
// of the broker, as with a real cluster (see commands.h and docs/operations.md, "A local Kafka").
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "app/commands.h"
#include "base/log.h"

namespace smetsmon::app {
namespace {

constexpr char kUsage[] =
    "usage: smetsmon mock-kafka [--brokers N] [--partitions N] [--topic T]\n"
    "Runs librdkafka's mock Kafka cluster (in memory only) until SIGINT or SIGTERM. Creates T\n"
    "(default smets.alerts, N partitions, default 16 as in 'smetsmon demo') and T.dlq (1\n"
    "partition) on N brokers (default 3). Prints the bootstrap address as the first line of\n"
    "stdout; logs to stderr.\n";

struct MockKafkaArgs {
  int brokers = 3;
  // The demo's count: enough partitions for the mock's 5 MiB-per-partition retention at the
  // load generator's zstd sizes.
  int partitions = 16;
  std::string topic = "smets.alerts";
  bool help = false;
};

absl::StatusOr<int> ParseCount(const std::string& flag, const std::string& text, int max) {
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 1 || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " must be an integer from 1 to ", max, ", not '", text, "'"));
  }
  return v;
}

// Kafka's own rule for topic names, less the room ".dlq" takes.
absl::Status CheckTopic(const std::string& topic) {
  constexpr size_t kMaxTopic = 249 - 4;
  bool ok = !topic.empty() && topic.size() <= kMaxTopic && topic != "." && topic != "..";
  for (char c : topic) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--topic must be 1 to ", kMaxTopic, " of [a-zA-Z0-9._-], not '", topic, "'"));
}

absl::StatusOr<MockKafkaArgs> ParseArgs(int argc, char** argv) {
  MockKafkaArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      args.help = true;
    } else if (a == "--brokers" && has_value) {
      // The mock runs every broker on one thread; more than a handful only tests the client.
      auto v = ParseCount(a, argv[++i], 64);
      if (!v.ok()) return v.status();
      args.brokers = *v;
    } else if (a == "--partitions" && has_value) {
      auto v = ParseCount(a, argv[++i], 10000);
      if (!v.ok()) return v.status();
      args.partitions = *v;
    } else if (a == "--topic" && has_value) {
      args.topic = argv[++i];
      if (absl::Status s = CheckTopic(args.topic); !s.ok()) return s;
    } else {
      const bool known = a == "--brokers" || a == "--partitions" || a == "--topic";
      return absl::InvalidArgumentError(known ? absl::StrCat(a, " needs a value")
                                              : absl::StrCat("unknown argument '", a, "'"));
    }
  }
  return args;
}

absl::Status CreateTopic(rd_kafka_mock_cluster_t* mock, const std::string& topic, int partitions) {
  // Replication 1: the mock keeps one log per partition whatever the factor, and a factor above
  // the broker count would be refused.
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mock, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("creating topic ", topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace

int RunMockKafka(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "smetsmon mock-kafka: %s\n%s",
                 std::string(args.status().message()).c_str(), kUsage);
    return 2;
  }
  if (args->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // Block the stop signals before librdkafka starts its threads (they inherit the mask), so that
  // only sigwait below receives them: no handler runs on a librdkafka thread mid-operation.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // The mock cluster lives in a host client handle of its own, as in `smetsmon demo`.
  char err[512];
  rd_kafka_conf_t* host_conf = rd_kafka_conf_new();
  rd_kafka_conf_set(host_conf, "log_level", "3", err, sizeof err);  // it has no brokers of its own
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, host_conf, err, sizeof err);
  if (host == nullptr) {
    Log(LogLevel::kError, "mock-kafka: cannot create the host client", {{"error", err}});
    return 1;
  }
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(host, args->brokers);
  if (mock == nullptr) {
    Log(LogLevel::kError, "mock-kafka: cannot start the mock cluster (see librdkafka's log)");
    rd_kafka_destroy(host);
    return 1;
  }
  absl::Status s = CreateTopic(mock, args->topic, args->partitions);
  if (s.ok()) s = CreateTopic(mock, args->topic + ".dlq", 1);
  if (!s.ok()) {
    Log(LogLevel::kError, "mock-kafka: " + std::string(s.message()));
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(host);
    return 1;
  }
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(mock);
  // The first line of stdout is the contract with scripts and tests: flushed now, since stdout
  // is a pipe there and would otherwise sit in the buffer until exit.
  std::printf("%s\n", bootstraps.c_str());
  std::fflush(stdout);
  Log(LogLevel::kInfo, "mock-kafka: up; SIGINT or SIGTERM stops it (messages are in memory only)",
      {{"bootstrap", bootstraps},
       {"brokers", std::to_string(args->brokers)},
       {"topic", args->topic},
       {"partitions", std::to_string(args->partitions)},
       {"dead_letter_topic", args->topic + ".dlq"}});

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  Log(LogLevel::kInfo, "mock-kafka: stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(host);
  return 0;
}

}  // namespace smetsmon::app
