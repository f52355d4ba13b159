// smetsmon-bench-overload: the daemon under a backlog, as processes, the way it runs in production.
//
//   1. starts `smetsmon mock-kafka --partitions P` (librdkafka's mock cluster, its own process),
//   2. produces a backlog of at least --events N generated events (default 5,000,000) with
//      `smetsmon-loadgen` at its maximum rate, and checks that the mock kept all of them (every
//      partition's low watermark still 0, the high watermarks summing to what the loadgen had
//      acknowledged: the mock keeps about 5 MiB of zstd batches per partition and drops the
//      oldest beyond that, so a too small P fails here rather than as a loss in the daemon),
//   3. phase 1 ("backlog"): starts `smetsmon run` (its own config directory, an explicit
//      memory-bounding config, a group of its own, reading from the earliest offset) and, while it
//      catches up, a prober thread requests /metrics and /readyz alternately every --probe-ms
//      (default 100 ms) over loopback, timing each answer, and samples the daemon's VmRSS from
//      /proc; done when the daemon's accepted + duplicate + rejected counts equal what the loadgen
//      had acknowledged and the consumer lag of every partition is 0 (or --timeout, a failure);
//   4. phase 2 ("backlog+live"): a second daemon (new group) reads the same backlog from the
//      start while the loadgen produces at its maximum rate for --phase2-seconds (another seed and
//      day, so no alert id repeats the backlog's), reconciled against the backlog plus what the
//      second loadgen run had acknowledged.
// Per phase: events, seconds, events/s, peak RSS (sampled VmRSS max and VmHWM), /metrics and
// /readyz p50/p99/max latency, final lag, reconciled. Last line: one JSON object. Exits 1 when a
// phase does not reconcile, the lag does not return to 0, the mock dropped messages, or a p99 is
// 1 s or more; 2 on bad arguments or when a process cannot be started.
#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

SteadyClock::time_point Deadline(double seconds_from_now) {
  return SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                  std::chrono::duration<double>(seconds_from_now));
}

// ------------------------------------------------------------------------------------------------
// Processes

class Process {
 public:
  // Spawns `argv`; stdout to a pipe when `pipe_stdout`, else to `log_path`; stderr to `log_path`.
  Process(const std::vector<std::string>& args, const std::string& log_path, bool pipe_stdout) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fds[2] = {-1, -1};
    if (pipe_stdout && ::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (pipe_stdout) {
      posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    } else {
      posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    }
    if (::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    if (pipe_stdout) {
      ::close(fds[1]);
      out_ = fds[0];
    }
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }

  // The first line of stdout within `timeout_s`; empty if none.
  std::string FirstLine(double timeout_s) {
    const auto deadline = Deadline(timeout_s);
    while (pending_.find('\n') == std::string::npos && ReadSome(deadline)) {
    }
    const size_t nl = pending_.find('\n');
    return nl == std::string::npos ? "" : pending_.substr(0, nl);
  }
  // Everything on stdout until the process closes it (exits), at most `timeout_s`.
  std::string ReadAll(double timeout_s) {
    const auto deadline = Deadline(timeout_s);
    while (ReadSome(deadline)) {
    }
    return pending_;
  }
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // True once the process has exited (reaped here; Stop then returns its status).
  bool Exited() {
    if (pid_ > 0 && ::waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ <= 0;
  }
  // Sends `sig` (0: none) and reaps within `timeout_s`; the wait status, or -1.
  int Stop(int sig, double timeout_s) {
    if (pid_ <= 0) return status_;
    if (sig != 0) ::kill(pid_, sig);
    const auto deadline = SteadyClock::now() + std::chrono::duration<double>(timeout_s);
    int status = 0;
    while (SteadyClock::now() < deadline) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        status_ = status;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  bool ReadSome(SteadyClock::time_point deadline) {
    if (out_ < 0) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
            .count();
    if (left <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[8192];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int status_ = -1;
  int out_ = -1;
  std::string pending_;
};

// VmRSS or VmHWM of `pid` in bytes, from /proc (0 when gone).
uint64_t ProcStatusBytes(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const size_t n = std::strlen(field);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::strtoull(line.c_str() + n + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// ------------------------------------------------------------------------------------------------
// HTTP over loopback

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct HttpAnswer {
  int status = -1;  // -1: no answer (refused, timed out)
  std::string body;
  double ms = 0;  // connect to the last byte
};

// GET with Connection: close, answered within `timeout_ms` or status -1. The body is returned
// unparsed (the daemon's answers are not chunked).
HttpAnswer HttpGet(uint16_t port, const std::string& path, int timeout_ms) {
  HttpAnswer a;
  const auto t0 = SteadyClock::now();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string resp;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
      if (n < 0) resp.clear();  // timed out mid-answer
    }
  }
  ::close(fd);
  a.ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
  if (resp.size() > 12 && resp.compare(0, 5, "HTTP/") == 0) {
    a.status = std::atoi(resp.c_str() + 9);
    const size_t body = resp.find("\r\n\r\n");
    if (body != std::string::npos) a.body = resp.substr(body + 4);
  }
  return a;
}

// The daemon's counts, from one /metrics answer.
struct DaemonCounts {
  bool ok = false;
  double accepted = 0, duplicate = 0, rejected = 0;
  double consumed = 0, applied = 0;
  double lag = 0;       // sum of smetsmon_kafka_consumer_lag_messages over partitions
  int lag_series = 0;   // partitions reporting a lag
  int lag_unknown = 0;  // partitions reporting -1 (watermarks unknown)
  double assigned = 0;  // smetsmon_kafka_assigned_partitions
  // The event-time merge: messages held now, waits, partitions passed over, forced takes.
  double merge_buffered = 0, merge_waits = 0, merge_passed_over = 0, merge_forced = 0;
  double counted() const { return accepted + duplicate + rejected; }
};

DaemonCounts ParseMetrics(const std::string& text) {
  DaemonCounts c;
  std::istringstream in(text);
  auto value = [](const std::string& line) {
    return std::atof(line.c_str() + line.rfind(' ') + 1);
  };
  auto starts = [](const std::string& line, const char* p) {
    return line.compare(0, std::strlen(p), p) == 0;
  };
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (starts(line, "smetsmon_events_accepted_total ")) {
      c.accepted = value(line);
      c.ok = true;
    } else if (starts(line, "smetsmon_events_duplicate_total ")) {
      c.duplicate = value(line);
    } else if (starts(line, "smetsmon_events_rejected_total{")) {
      c.rejected += value(line);
    } else if (starts(line, "smetsmon_kafka_consumed_messages_total ")) {
      c.consumed = value(line);
    } else if (starts(line, "smetsmon_kafka_applied_messages_total ")) {
      c.applied = value(line);
    } else if (starts(line, "smetsmon_kafka_assigned_partitions ")) {
      c.assigned = value(line);
    } else if (starts(line, "smetsmon_kafka_merge_buffered_messages ")) {
      c.merge_buffered = value(line);
    } else if (starts(line, "smetsmon_kafka_merge_waits_total ")) {
      c.merge_waits = value(line);
    } else if (starts(line, "smetsmon_kafka_merge_passed_over_total ")) {
      c.merge_passed_over = value(line);
    } else if (starts(line, "smetsmon_kafka_merge_forced_total ")) {
      c.merge_forced = value(line);
    } else if (starts(line, "smetsmon_kafka_consumer_lag_messages{")) {
      const double v = value(line);
      ++c.lag_series;
      if (v < 0) {
        ++c.lag_unknown;
      } else {
        c.lag += v;
      }
    }
  }
  return c;
}

// ------------------------------------------------------------------------------------------------
// Kafka: the mock's watermarks

struct Watermarks {
  bool ok = false;
  int64_t messages = 0;         // sum of high - low
  int partitions_not_at_0 = 0;  // partitions whose low watermark moved (the mock dropped batches)
  int64_t max_partition = 0;    // the fullest partition's messages
};

Watermarks QueryWatermarks(const std::string& bootstraps, const std::string& topic,
                           int partitions) {
  Watermarks w;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) return w;
  w.ok = true;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10'000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      w.ok = false;
      break;
    }
    if (low != 0) ++w.partitions_not_at_0;
    w.messages += high - low;
    w.max_partition = std::max(w.max_partition, high - low);
  }
  rd_kafka_destroy(rk);
  return w;
}

// ------------------------------------------------------------------------------------------------
// The loadgen's report: {"sent":N,"delivered":N,"failed":N,"truth":{"lines":N,...}}

struct LoadgenResult {
  bool ok = false;
  uint64_t sent = 0, delivered = 0, failed = 0, lines = 0;
  uint64_t unique_valid = 0, duplicates = 0;  // the generator's truth
  double seconds = 0;
};

uint64_t JsonUint(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return 0;
  return std::strtoull(json.c_str() + at + key.size() + 3, nullptr, 10);
}

LoadgenResult ParseLoadgen(const std::string& out, int status, double seconds) {
  LoadgenResult r;
  const size_t at = out.find("{\"sent\":");
  if (at == std::string::npos) return r;
  const std::string json = out.substr(at);
  r.sent = JsonUint(json, "sent");
  r.delivered = JsonUint(json, "delivered");
  r.failed = JsonUint(json, "failed");
  r.lines = JsonUint(json, "lines");
  r.unique_valid = JsonUint(json, "unique_valid");
  r.duplicates = JsonUint(json, "duplicates");
  r.seconds = seconds;
  r.ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.failed == 0 &&
         r.delivered == r.sent;
  return r;
}

// ------------------------------------------------------------------------------------------------
// Options

struct Options {
  uint64_t events = 5'000'000;
  int partitions = 256;  // ~115 k events each at the mock's 5 MiB (measured): room for 29 M
  double phase2_seconds = 20;
  uint64_t phase2_premises = 2'000'000;
  std::string binary_dir = SMETSMON_BINARY_DIR;
  std::string work_dir = "/tmp/smetsmon-bench-overload";
  int workers = 1;
  int probe_ms = 100;
  double timeout_s = 600;
  std::string prefetch_kb = "65536";  // kafka queued.max.messages.kbytes (the shipped default)
  std::string dedup_capacity = "25165824";  // engine.dedup_capacity (the shipped default)
  std::string expected_devices = "";        // engine.expected_devices ("" = shipped default)
  std::string merge_max_wait = "";          // kafka.merge_max_wait ("" = shipped)
  bool phase1 = true, phase2 = true;
};

constexpr char kUsage[] =
    "usage: smetsmon-bench-overload [--events N] [--partitions P] [--phase2-seconds S]\n"
    "         [--phase2-premises N] [--binary-dir DIR] [--work-dir DIR] [--workers W]\n"
    "         [--probe-ms MS] [--timeout S] [--prefetch-kb KB] [--dedup-capacity N]\n"
    "         [--expected-devices N] [--merge-max-wait DURATION] [--only 1|2]\n";

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (a == "--events") {
      o->events = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--partitions") {
      o->partitions = std::atoi(v.c_str());
    } else if (a == "--phase2-seconds") {
      o->phase2_seconds = std::atof(v.c_str());
    } else if (a == "--phase2-premises") {
      o->phase2_premises = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--binary-dir") {
      o->binary_dir = v;
    } else if (a == "--work-dir") {
      o->work_dir = v;
    } else if (a == "--workers") {
      o->workers = std::atoi(v.c_str());
    } else if (a == "--probe-ms") {
      o->probe_ms = std::atoi(v.c_str());
    } else if (a == "--timeout") {
      o->timeout_s = std::atof(v.c_str());
    } else if (a == "--prefetch-kb") {
      o->prefetch_kb = v;
    } else if (a == "--dedup-capacity") {
      o->dedup_capacity = v;
    } else if (a == "--expected-devices") {
      o->expected_devices = v;
    } else if (a == "--merge-max-wait") {
      o->merge_max_wait = v;
    } else if (a == "--only") {
      o->phase1 = v == "1";
      o->phase2 = v == "2";
    } else {
      return false;
    }
  }
  return o->events > 0 && o->partitions >= 1 && o->partitions <= 10000 && o->workers >= 1 &&
         o->probe_ms >= 10 && o->phase2_seconds >= 0 && (o->phase1 || o->phase2);
}

// ------------------------------------------------------------------------------------------------
// One phase

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
  size_t failed = 0;  // no answer within the probe timeout
};

Percentiles Summarise(std::vector<double> ms, size_t failed) {
  Percentiles p;
  p.n = ms.size();
  p.failed = failed;
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(ms.size()))) - 1;
    return ms[std::min(i, ms.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = ms.back();
  return p;
}

struct PhaseResult {
  std::string name;
  uint64_t expected = 0;           // what the loadgen(s) had acknowledged
  DaemonCounts final;              // the daemon's last counts
  double seconds = 0;              // from the daemon's first counted event to every event counted
  double startup_s = 0;            // from the spawn to the first counted event
  double lag_zero_s = 0;           // from the spawn to every event counted and every lag 0
  double peak_rss_mib = 0;         // sampled VmRSS max
  double peak_merge_buffered = 0;  // sampled smetsmon_kafka_merge_buffered_messages max
  double hwm_mib = 0;              // VmHWM at the end
  double mock_peak_rss_mib = 0;
  Percentiles metrics, readyz;
  int readyz_ok = 0, readyz_unready = 0;  // 200 and 503 answers
  double first_ready_s = -1;              // first /readyz 200 after the spawn
  bool reconciled = false, lag_zero = false, timed_out = false;
  LoadgenResult live;  // phase 2's concurrent loadgen
  bool retention_ok = true;
};

std::string WriteDaemonConfig(const Options& o, const std::string& name,
                              const std::string& bootstraps, uint16_t port) {
  const std::string dir = o.work_dir + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* f : {"areas.yaml", "alert_catalogue.yaml", "rules.yaml"}) {
    std::filesystem::copy_file(std::string(SMETSMON_SOURCE_DIR) + "/config/" + f, dir + "/" + f);
  }
  std::ofstream y(dir + "/smetsmon.yaml");
  y << "# written by smetsmon-bench-overload: the bounds that hold the daemon's memory\n"
       "engine:\n"
       "  workers: "
    << o.workers << "\n  dedup_capacity: " << o.dedup_capacity << "\n";
  if (!o.expected_devices.empty()) y << "  expected_devices: " << o.expected_devices << "\n";
  y << "kafka:\n";
  if (!o.merge_max_wait.empty()) y << "  merge_max_wait: " << o.merge_max_wait << "\n";
  y << "  topic: smets.alerts\n"
       "  dead_letter_topic: smets.alerts.dlq\n"
       "  bootstrap.servers: \""
    << bootstraps << "\"\n  group.id: overload-" << name
    << "\n"
       "  batch_size: 4096\n"
       "  max_inflight_batches: 8\n"
       "  queued.max.messages.kbytes: "
    << o.prefetch_kb
    << "\n"
       "  session.timeout.ms: 6000\n"
       "  heartbeat.interval.ms: 500\n"
       "http:\n"
       "  listen: 127.0.0.1:"
    << port << "\n";
  return dir;
}

PhaseResult RunPhase(const Options& o, const std::string& name, const std::string& bootstraps,
                     pid_t mock_pid, uint64_t backlog, bool live) {
  PhaseResult r;
  r.name = name;
  const uint16_t port = FreePort();
  const std::string dir = WriteDaemonConfig(o, name, bootstraps, port);
  const std::string log = dir + "/daemon.log";
  std::fprintf(stderr, "[%s] daemon: %s/smetsmon run --config %s (log %s, port %u)\n", name.c_str(),
               o.binary_dir.c_str(), dir.c_str(), log.c_str(), port);
  const auto spawn = SteadyClock::now();
  Process daemon({o.binary_dir + "/smetsmon", "run", "--config", dir}, log, false);
  if (!daemon.started()) {
    std::fprintf(stderr, "[%s] cannot start the daemon\n", name.c_str());
    std::exit(2);
  }

  // The prober: /metrics and /readyz alternately, each timed; RSS sampled at every probe.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> expected{live ? 0 : backlog};  // 0 while the live loadgen runs
  std::mutex mu;
  std::vector<double> metrics_ms, readyz_ms;
  size_t metrics_failed = 0, readyz_failed = 0;
  DaemonCounts last;
  double first_counted_s = -1, all_counted_s = -1;
  uint64_t peak_rss = 0, mock_peak_rss = 0;
  double peak_merge_buffered = 0;
  bool up = false;
  std::thread prober([&] {
    bool metrics_turn = true;
    int prints = 0;
    auto next = SteadyClock::now();
    while (!stop.load()) {
      next += std::chrono::milliseconds(o.probe_ms);
      const HttpAnswer a = HttpGet(port, metrics_turn ? "/metrics" : "/readyz", 5000);
      const double t = SecondsSince(spawn);
      const uint64_t rss = ProcStatusBytes(daemon.pid(), "VmRSS");
      {
        std::lock_guard lock(mu);
        peak_rss = std::max(peak_rss, rss);
        mock_peak_rss = std::max(mock_peak_rss, ProcStatusBytes(mock_pid, "VmRSS"));
        if (a.status > 0) up = true;
        // Before the listener is up a refused connection is start-up, not a slow answer.
        if (up) {
          if (metrics_turn) {
            if (a.status != 200) ++metrics_failed;
            metrics_ms.push_back(a.ms);
          } else {
            if (a.status == 200) {
              ++r.readyz_ok;
              if (r.first_ready_s < 0) r.first_ready_s = t;
            } else if (a.status == 503) {
              ++r.readyz_unready;
            } else {
              ++readyz_failed;
            }
            readyz_ms.push_back(a.ms);
          }
        }
        if (metrics_turn && a.status == 200) {
          const DaemonCounts c = ParseMetrics(a.body);
          if (c.ok) {
            last = c;
            peak_merge_buffered = std::max(peak_merge_buffered, c.merge_buffered);
            if (first_counted_s < 0 && c.counted() > 0) first_counted_s = t;
            const uint64_t want = expected.load();
            if (want > 0 && c.counted() >= static_cast<double>(want) && all_counted_s < 0) {
              all_counted_s = t;
            }
            if (++prints % 25 == 0) {
              std::fprintf(stderr,
                           "[%s] %6.1fs counted %.0f consumed %.0f applied %.0f lag %.0f "
                           "(%d partitions) rss %.0f MiB /metrics %.1f ms\n",
                           name.c_str(), t, c.counted(), c.consumed, c.applied, c.lag, c.lag_series,
                           static_cast<double>(rss) / 1048576.0, a.ms);
            }
          }
        }
      }
      metrics_turn = !metrics_turn;
      std::this_thread::sleep_until(next);
    }
  });

  // Phase 2: the loadgen at its maximum rate while the daemon catches up.
  if (live) {
    const std::string lg_log = o.work_dir + "/loadgen-live.log";
    Process lg({o.binary_dir + "/smetsmon-loadgen", "--bootstrap", bootstraps, "--seed", "2",
                "--start", "2023-06-28T00:00:00Z", "--premises", std::to_string(o.phase2_premises),
                "--hours", "24", "--config", std::string(SMETSMON_SOURCE_DIR) + "/config"},
               lg_log, true);
    const auto lg_start = SteadyClock::now();
    // Its stdout is read as it comes (a pipe that fills would block it).
    std::string out;
    std::thread reader([&] { out = lg.ReadAll(o.timeout_s); });
    while (SecondsSince(lg_start) < o.phase2_seconds && !lg.Exited()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double produced_s = SecondsSince(lg_start);
    lg.Signal(SIGTERM);
    const int status = lg.Stop(0, 120);
    reader.join();
    r.live = ParseLoadgen(out, status, produced_s);
    std::fprintf(stderr, "[%s] live loadgen: sent %llu delivered %llu in %.1f s (%.0f/s)\n",
                 name.c_str(), static_cast<unsigned long long>(r.live.sent),
                 static_cast<unsigned long long>(r.live.delivered), r.live.seconds,
                 static_cast<double>(r.live.delivered) / std::max(r.live.seconds, 1e-9));
    expected.store(backlog + r.live.delivered);
    const Watermarks w = QueryWatermarks(bootstraps, "smets.alerts", o.partitions);
    r.retention_ok = w.ok && w.partitions_not_at_0 == 0 &&
                     static_cast<uint64_t>(w.messages) == backlog + r.live.delivered;
    std::fprintf(stderr,
                 "[%s] mock after the live run: %lld messages, %d partitions dropped data, "
                 "fullest %lld\n",
                 name.c_str(), static_cast<long long>(w.messages), w.partitions_not_at_0,
                 static_cast<long long>(w.max_partition));
  }
  r.expected = expected.load();

  // Done: every event counted and every partition's lag 0 (the lag is the consumer's fetch
  // position against the high watermark, so counted events are checked too).
  const auto deadline = spawn + std::chrono::duration<double>(o.timeout_s);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(o.probe_ms));
    std::lock_guard lock(mu);
    const bool counted = last.ok && last.counted() >= static_cast<double>(r.expected);
    const bool lag0 = last.lag_series > 0 && last.lag_unknown == 0 && last.lag == 0;
    if (counted && lag0) {
      r.lag_zero_s = SecondsSince(spawn);
      r.lag_zero = true;
      break;
    }
    if (SteadyClock::now() > deadline) {
      r.timed_out = true;
      break;
    }
    if (daemon.Exited()) {
      std::fprintf(stderr, "[%s] the daemon exited; see %s\n", name.c_str(), log.c_str());
      r.timed_out = true;
      break;
    }
  }
  // A few more probes after the catch-up (the steady state).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop.store(true);
  prober.join();
  r.hwm_mib = static_cast<double>(ProcStatusBytes(daemon.pid(), "VmHWM")) / 1048576.0;
  const HttpAnswer final_metrics = HttpGet(port, "/metrics", 5000);
  r.final = final_metrics.status == 200 ? ParseMetrics(final_metrics.body) : last;
  const int status = daemon.Stop(SIGTERM, 60);
  if (status == -1)
    std::fprintf(stderr, "[%s] the daemon did not stop within 60 s\n", name.c_str());

  r.peak_rss_mib = static_cast<double>(peak_rss) / 1048576.0;
  r.peak_merge_buffered = peak_merge_buffered;
  r.mock_peak_rss_mib = static_cast<double>(mock_peak_rss) / 1048576.0;
  r.metrics = Summarise(metrics_ms, metrics_failed);
  r.readyz = Summarise(readyz_ms, readyz_failed);
  r.startup_s = first_counted_s;
  r.seconds = (all_counted_s >= 0 && first_counted_s >= 0) ? all_counted_s - first_counted_s : 0;
  r.reconciled = r.final.ok && r.final.counted() == static_cast<double>(r.expected) &&
                 r.final.consumed == static_cast<double>(r.expected) &&
                 r.final.applied == static_cast<double>(r.expected) && r.retention_ok &&
                 (!live || r.live.ok);
  return r;
}

void PrintPhase(const PhaseResult& r) {
  const double eps = r.seconds > 0 ? static_cast<double>(r.expected) / r.seconds : 0;
  std::printf("%s:\n", r.name.c_str());
  std::printf(
      "  events            %llu (daemon counted %.0f: accepted %.0f, duplicate %.0f, "
      "rejected %.0f; consumed %.0f, applied %.0f)\n",
      static_cast<unsigned long long>(r.expected), r.final.counted(), r.final.accepted,
      r.final.duplicate, r.final.rejected, r.final.consumed, r.final.applied);
  if (r.live.sent > 0) {
    std::printf(
        "  live loadgen      %llu acknowledged in %.1f s (%.0f events/s) during the "
        "catch-up\n",
        static_cast<unsigned long long>(r.live.delivered), r.live.seconds,
        static_cast<double>(r.live.delivered) / std::max(r.live.seconds, 1e-9));
  }
  std::printf(
      "  seconds           %.1f (first to last event counted; %.1f s from the spawn to "
      "the first; lag 0 at %.1f s)\n",
      r.seconds, r.startup_s, r.lag_zero_s);
  std::printf("  events/s          %.0f\n", eps);
  std::printf("  peak RSS          %.0f MiB sampled, VmHWM %.0f MiB (the mock broker: %.0f MiB)\n",
              r.peak_rss_mib, r.hwm_mib, r.mock_peak_rss_mib);
  std::printf(
      "  event-time merge  peak %.0f messages held (sampled), %.0f waits, %.0f partitions "
      "passed over, %.0f forced takes\n",
      r.peak_merge_buffered, r.final.merge_waits, r.final.merge_passed_over, r.final.merge_forced);
  std::printf(
      "  /metrics          p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu probes, %zu "
      "failed)\n",
      r.metrics.p50, r.metrics.p99, r.metrics.max, r.metrics.n, r.metrics.failed);
  std::printf(
      "  /readyz           p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu probes: %d "
      "ready, %d not ready, %zu failed; first ready at %.1f s)\n",
      r.readyz.p50, r.readyz.p99, r.readyz.max, r.readyz.n, r.readyz_ok, r.readyz_unready,
      r.readyz.failed, r.first_ready_s);
  std::printf("  final lag         %.0f messages over %d partitions%s\n", r.final.lag,
              r.final.lag_series, r.timed_out ? " (TIMED OUT)" : "");
  std::printf("  reconciled        %s\n", r.reconciled ? "yes" : "NO");
}

std::string PhaseJson(const PhaseResult& r) {
  char buf[1024];
  const double eps = r.seconds > 0 ? static_cast<double>(r.expected) / r.seconds : 0;
  std::snprintf(
      buf, sizeof buf,
      "{\"events\":%llu,\"counted\":%.0f,\"seconds\":%.2f,\"events_per_s\":%.0f,"
      "\"startup_s\":%.2f,\"lag_zero_s\":%.2f,\"peak_rss_mib\":%.0f,\"hwm_mib\":%.0f,"
      "\"metrics_p50_ms\":%.2f,\"metrics_p99_ms\":%.2f,\"metrics_max_ms\":%.2f,"
      "\"readyz_p50_ms\":%.2f,\"readyz_p99_ms\":%.2f,\"readyz_max_ms\":%.2f,"
      "\"probes\":%zu,\"final_lag\":%.0f,\"accepted\":%.0f,\"duplicate\":%.0f,\"live_events\":%llu,"
      "\"live_events_per_s\":%.0f,\"reconciled\":%s}",
      static_cast<unsigned long long>(r.expected), r.final.counted(), r.seconds, eps, r.startup_s,
      r.lag_zero_s, r.peak_rss_mib, r.hwm_mib, r.metrics.p50, r.metrics.p99, r.metrics.max,
      r.readyz.p50, r.readyz.p99, r.readyz.max, r.metrics.n + r.readyz.n, r.final.lag,
      r.final.accepted, r.final.duplicate, static_cast<unsigned long long>(r.live.delivered),
      static_cast<double>(r.live.delivered) / std::max(r.live.seconds, 1e-9),
      r.reconciled ? "true" : "false");
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::filesystem::create_directories(o.work_dir);
  ::signal(SIGPIPE, SIG_IGN);

  // 1. The mock broker.
  Process mock(
      {o.binary_dir + "/smetsmon", "mock-kafka", "--partitions", std::to_string(o.partitions)},
      o.work_dir + "/mock-kafka.log", true);
  const std::string bootstraps = mock.FirstLine(30);
  if (bootstraps.empty()) {
    std::fprintf(stderr, "mock-kafka did not start; see %s/mock-kafka.log\n", o.work_dir.c_str());
    return 2;
  }
  std::fprintf(stderr, "mock-kafka at %s, %d partitions\n", bootstraps.c_str(), o.partitions);

  // 2. The backlog: a generated fleet of about 3.55 alerts per premises per day (measured on the
  // shipped generator), so N / 3.5 premises give at least N lines.
  const uint64_t premises = (o.events * 2 + 6) / 7;
  const auto produce_start = SteadyClock::now();
  Process lg({o.binary_dir + "/smetsmon-loadgen", "--bootstrap", bootstraps, "--premises",
              std::to_string(premises), "--hours", "24", "--config",
              std::string(SMETSMON_SOURCE_DIR) + "/config"},
             o.work_dir + "/loadgen-backlog.log", true);
  const std::string lg_out = lg.ReadAll(o.timeout_s);
  const int lg_status = lg.Stop(0, 60);
  const LoadgenResult backlog = ParseLoadgen(lg_out, lg_status, SecondsSince(produce_start));
  if (!backlog.ok) {
    std::fprintf(stderr, "the backlog's loadgen failed: %s (see %s/loadgen-backlog.log)\n",
                 lg_out.c_str(), o.work_dir.c_str());
    return 1;
  }
  const Watermarks w = QueryWatermarks(bootstraps, "smets.alerts", o.partitions);
  const uint64_t mock_rss = ProcStatusBytes(mock.pid(), "VmRSS");
  std::fprintf(stderr,
               "backlog: %llu events acknowledged in %.1f s (%.0f/s); the mock holds %lld "
               "(fullest partition %lld), %d partitions dropped data; mock RSS %.0f MiB\n",
               static_cast<unsigned long long>(backlog.delivered), backlog.seconds,
               static_cast<double>(backlog.delivered) / backlog.seconds,
               static_cast<long long>(w.messages), static_cast<long long>(w.max_partition),
               w.partitions_not_at_0, static_cast<double>(mock_rss) / 1048576.0);
  if (!w.ok || w.partitions_not_at_0 != 0 ||
      static_cast<uint64_t>(w.messages) != backlog.delivered) {
    std::fprintf(stderr, "the mock did not keep the backlog: raise --partitions\n");
    return 1;
  }

  std::vector<PhaseResult> results;
  if (o.phase1)
    results.push_back(RunPhase(o, "backlog", bootstraps, mock.pid(), backlog.delivered, false));
  if (o.phase2) {
    results.push_back(RunPhase(o, "backlog+live", bootstraps, mock.pid(), backlog.delivered, true));
  }
  const double mock_hwm = static_cast<double>(ProcStatusBytes(mock.pid(), "VmHWM")) / 1048576.0;
  mock.Stop(SIGTERM, 30);

  bool ok = true;
  for (const PhaseResult& r : results) {
    PrintPhase(r);
    ok = ok && r.reconciled && r.lag_zero && !r.timed_out && r.metrics.p99 < 1000 &&
         r.readyz.p99 < 1000 && r.metrics.failed == 0 && r.readyz.failed == 0;
  }
  // Accepted against the generator's truth: the duplicate filter's horizon is stream time; with
  // the partitions merged in event-time order a backlog misses none (docs/architecture.md,
  // "Catching up a backlog"); a duplicate missed would be counted accepted.
  std::printf("backlog truth: %llu lines, %llu unique valid, %llu duplicates",
              static_cast<unsigned long long>(backlog.lines),
              static_cast<unsigned long long>(backlog.unique_valid),
              static_cast<unsigned long long>(backlog.duplicates));
  if (o.phase1) {
    std::printf("; phase 1 counted %.0f duplicates as accepted (missed by the filter)",
                results[0].final.accepted - static_cast<double>(backlog.unique_valid));
  }
  std::printf("\n");
  std::printf(
      "mock broker: VmHWM %.0f MiB, %d partitions; daemon bounds: engine.workers %d, "
      "engine.dedup_capacity %s, kafka.queued.max.messages.kbytes %s\n",
      mock_hwm, o.partitions, o.workers, o.dedup_capacity.c_str(), o.prefetch_kb.c_str());
  std::string json = "{\"backlog_events\":" + std::to_string(backlog.delivered) +
                     ",\"partitions\":" + std::to_string(o.partitions) +
                     ",\"backlog_produce_s\":" + std::to_string(backlog.seconds);
  for (const PhaseResult& r : results) {
    json += ",\"" + std::string(r.name == "backlog" ? "backlog" : "backlog_live") +
            "\":" + PhaseJson(r);
  }
  json += ",\"ok\":" + std::string(ok ? "true" : "false") + "}";
  std::printf("%s\n", json.c_str());
  return ok ? 0 : 1;
}
