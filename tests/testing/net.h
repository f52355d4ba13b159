// Test helpers for talking to servers on loopback: a blocking HTTP/1.1 GET, a free port, and a
// child process (the real Prometheus/Alertmanager binaries) stopped when it goes out of scope.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace smetsmon::testing {

// One raw HTTP/1.1 exchange on loopback: `request` sent as given (it should ask for
// `Connection: close`); returns (status, body), status -1 when nothing answered. A chunked body
// (Go servers such as Alertmanager's) is reassembled.
inline std::pair<int, std::string> HttpExchange(uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {-1, ""};
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::write(fd, request.data() + sent, request.size() - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const int status = resp.size() > 12 ? std::atoi(resp.c_str() + 9) : -1;
  const size_t body = resp.find("\r\n\r\n");
  if (body == std::string::npos) return {status, ""};
  std::string headers = resp.substr(0, body);
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (headers.find("transfer-encoding: chunked") == std::string::npos) {
    return {status, resp.substr(body + 4)};
  }
  // Chunked: hex size line, data, CRLF, until size 0.
  std::string out;
  size_t at = body + 4;
  for (;;) {
    const size_t eol = resp.find("\r\n", at);
    if (eol == std::string::npos) break;
    const size_t size = std::strtoul(resp.c_str() + at, nullptr, 16);
    if (size == 0 || eol + 2 + size > resp.size()) break;
    out.append(resp, eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return {status, out};
}

// GET http://127.0.0.1:port/path; returns (status, body), status -1 when nothing answered.
inline std::pair<int, std::string> HttpGet(uint16_t port, const std::string& path,
                                           const std::string& bearer_token = "") {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!bearer_token.empty()) req += "Authorization: Bearer " + bearer_token + "\r\n";
  req += "\r\n";
  return HttpExchange(port, req);
}

// A port nobody listens on right now (for servers that cannot bind port 0 and report it).
// The value of `series` (name plus labels exactly as rendered) in Prometheus text, or -1.
inline double MetricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(text.c_str() + at + series.size() + 2);
}

inline uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Waits up to `timeout_ms` for `done`, re-checking every `step_ms`: for state held by another
// process (Prometheus, Alertmanager, a child daemon), which has no event to wait on.
template <typename F>
bool WaitUntil(F done, int timeout_ms, int step_ms = 100) {
  std::mutex mu;
  std::condition_variable cv;
  for (int waited = 0; waited <= timeout_ms; waited += step_ms) {
    if (done()) return true;
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(step_ms));
  }
  return done();
}

// A child process; SIGTERM and reaped on destruction.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& log_path) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    if (::posix_spawnp(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool started() const { return pid_ > 0; }
  // Sends `sig` and reaps the process (SIGKILL: a crash, nothing flushed or cleaned up);
  // returns its wait status (-1 when there was none).
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  // True while the process runs (reaps it once it has exited).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

 private:
  pid_t pid_ = -1;
};

// A real Prometheus (Debian package `prometheus`) on a free loopback port, scraping
// 127.0.0.1:`target_port` every second, with `rule_file` loaded when given; its config, data and
// log under `dir`. Stopped when destroyed.
class PrometheusServer {
 public:
  PrometheusServer(const std::string& dir, uint16_t target_port, const std::string& rule_file = "")
      : port_(FreePort()), process_(Start(dir, target_port, rule_file, port_)) {}
  uint16_t port() const { return port_; }
  bool started() const { return process_.started(); }

 private:
  static ChildProcess Start(const std::string& dir, uint16_t target_port,
                            const std::string& rule_file, uint16_t port) {
    std::ofstream(dir + "/prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        << (rule_file.empty() ? "" : "rule_files: ['" + rule_file + "']\n")
        << "scrape_configs:\n"
           "  - job_name: smetsmon\n"
           "    static_configs: [{targets: ['127.0.0.1:"
        << target_port << "']}]\n";
    return ChildProcess(
        "prometheus",
        {"--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/data",
         "--web.listen-address=127.0.0.1:" + std::to_string(port)},
        dir + "/prometheus.log");
  }
  uint16_t port_;
  ChildProcess process_;
};

}  // namespace smetsmon::testing
