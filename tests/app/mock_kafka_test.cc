// Runs the real `smetsmon mock-kafka` as its own process, as an operator or a script would, and
// talks Kafka to it with plain librdkafka clients: topics as asked, produce, consume, commit,
// SIGTERM exits 0. Bad arguments exit 2.
#include <librdkafka/rdkafka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace smetsmon {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `smetsmon mock-kafka ARGS` with stdout on a pipe we read and stderr in a file (shown when a
// check fails). SIGKILLed and reaped on destruction if still running.
class MockKafkaProcess {
 public:
  explicit MockKafkaProcess(const std::vector<std::string>& args) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    stderr_path_ = ::testing::TempDir() + "smetsmon_mock_kafka_" + info->name() + ".stderr";
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    std::vector<std::string> all = {SMETSMON_BINARY, "mock-kafka"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~MockKafkaProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  MockKafkaProcess(const MockKafkaProcess&) = delete;
  MockKafkaProcess& operator=(const MockKafkaProcess&) = delete;

  bool started() const { return pid_ > 0 && out_ >= 0; }
  std::string stderr_text() const { return ReadFileText(stderr_path_); }

  // The first line of stdout, waiting for it up to `timeout`; empty if none came (the process
  // exited or hung).
  std::string FirstLine(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (pending_.find('\n') == std::string::npos) {
      if (!ReadSome(deadline)) return "";
    }
    return pending_.substr(0, pending_.find('\n'));
  }

  // Sends `sig` and waits up to `timeout` for the process to exit (its end of the stdout pipe
  // closes then); returns its wait status, or -1 if it did not exit.
  int Stop(int sig, std::chrono::milliseconds timeout) {
    ::kill(pid_, sig);
    const auto deadline = Clock::now() + timeout;
    while (ReadSome(deadline)) {
    }
    if (Clock::now() >= deadline) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  // Appends what stdout has within the deadline; false at end of file or deadline.
  bool ReadSome(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  std::string stderr_path_;
};

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::string& bootstraps,
                      const std::map<std::string, std::string>& extra = {}) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> props = {{"bootstrap.servers", bootstraps},
                                              {"log_level", "3"}};
  props.insert(extra.begin(), extra.end());
  for (const auto& [k, v] : props) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err), RD_KAFKA_CONF_OK)
        << k << ": " << err;
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  EXPECT_NE(rk, nullptr) << err;
  return rk;
}

struct ClusterView {
  int brokers = 0;
  std::map<std::string, int> partitions;  // topic -> partition count
};

// All topics, as listed: a listing never auto-creates a topic (the mock auto-creates one with
// 4 partitions on a metadata request naming it), so what it shows is what mock-kafka created.
ClusterView Describe(const std::string& bootstraps) {
  ClusterView view;
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, bootstraps);
  if (rk == nullptr) return view;
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, nullptr, &md, 10'000);
  EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    view.brokers = md->broker_cnt;
    for (int i = 0; i < md->topic_cnt; ++i) {
      view.partitions[md->topics[i].topic] = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  return view;
}

constexpr std::chrono::seconds kStartTimeout{30};
constexpr std::chrono::seconds kStopTimeout{30};

TEST(MockKafkaTest, ServesTopicsAsAskedAndStopsCleanlyOnSigterm) {
  MockKafkaProcess mock({"--partitions", "4", "--topic", "t1"});
  ASSERT_TRUE(mock.started());
  const std::string bootstraps = mock.FirstLine(kStartTimeout);
  ASSERT_FALSE(bootstraps.empty()) << "no bootstrap line; stderr:\n" << mock.stderr_text();
  ASSERT_EQ(bootstraps.rfind("127.0.0.1:", 0), 0u) << bootstraps;

  const ClusterView view = Describe(bootstraps);
  EXPECT_EQ(view.brokers, 3);
  EXPECT_EQ(view.partitions, (std::map<std::string, int>{{"t1", 4}, {"t1.dlq", 1}}));

  // Produce one message to each partition, so every partition is proven to take and serve data.
  const int kPartitions = 4;
  rd_kafka_t* producer = NewClient(RD_KAFKA_PRODUCER, bootstraps);
  ASSERT_NE(producer, nullptr);
  std::set<std::string> sent;
  for (int p = 0; p < kPartitions; ++p) {
    std::string value = "alert-" + std::to_string(p);
    ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("t1"), RD_KAFKA_V_PARTITION(p),
                                RD_KAFKA_V_VALUE(value.data(), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    sent.insert(value);
  }
  ASSERT_EQ(rd_kafka_flush(producer, 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);

  // Read them back from the beginning, then commit: the group coordinator answers too, which is
  // what `smetsmon run` needs to resume where it stopped.
  rd_kafka_t* consumer =
      NewClient(RD_KAFKA_CONSUMER, bootstraps,
                {{"group.id", "mock-kafka-test"}, {"enable.auto.commit", "false"}});
  ASSERT_NE(consumer, nullptr);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, "t1", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  ASSERT_EQ(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::set<std::string> received;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (received.size() < sent.size() && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 500);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      received.insert(std::string(static_cast<const char*>(m->payload), m->len));
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(received, sent);
  ASSERT_EQ(rd_kafka_commit(consumer, nullptr, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int p = 0; p < kPartitions; ++p) parts->elems[p].offset = RD_KAFKA_OFFSET_INVALID;
  ASSERT_EQ(rd_kafka_committed(consumer, parts, 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int p = 0; p < kPartitions; ++p) EXPECT_EQ(parts->elems[p].offset, 1) << "partition " << p;
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);

  const int status = mock.Stop(SIGTERM, kStopTimeout);
  ASSERT_NE(status, -1) << "did not exit on SIGTERM; stderr:\n" << mock.stderr_text();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "; stderr:\n" << mock.stderr_text();
  EXPECT_EQ(WEXITSTATUS(status), 0) << mock.stderr_text();
}

TEST(MockKafkaTest, DefaultsAreTheDemosTopicsOnThreeBrokersAndSigintStops) {
  MockKafkaProcess mock({});
  ASSERT_TRUE(mock.started());
  const std::string bootstraps = mock.FirstLine(kStartTimeout);
  ASSERT_FALSE(bootstraps.empty()) << "no bootstrap line; stderr:\n" << mock.stderr_text();
  const ClusterView view = Describe(bootstraps);
  EXPECT_EQ(view.brokers, 3);
  EXPECT_EQ(view.partitions,
            (std::map<std::string, int>{{"smets.alerts", 16}, {"smets.alerts.dlq", 1}}));
  const int status = mock.Stop(SIGINT, kStopTimeout);
  ASSERT_NE(status, -1) << "did not exit on SIGINT; stderr:\n" << mock.stderr_text();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << mock.stderr_text();
}

TEST(MockKafkaTest, BadArgumentsPrintUsageAndExit2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--partitions", "0"},
                                             {"--brokers", "two"},
                                             {"--topic", "no spaces"},
                                             {"--partitions"},
                                             {"--bogus"}}) {
    MockKafkaProcess mock(args);
    ASSERT_TRUE(mock.started());
    // No bootstrap line: it exits at once, closing stdout.
    EXPECT_EQ(mock.FirstLine(kStartTimeout), "") << args[0];
    const int status = mock.Stop(0, kStopTimeout);
    ASSERT_NE(status, -1) << args[0];
    ASSERT_TRUE(WIFEXITED(status)) << args[0];
    EXPECT_EQ(WEXITSTATUS(status), 2) << args[0];
    EXPECT_NE(mock.stderr_text().find("usage: smetsmon mock-kafka"), std::string::npos)
        << args[0] << ": " << mock.stderr_text();
  }
}

}  // namespace
}  // namespace smetsmon
