// systemd's notification protocol: the datagrams SdNotify sends (path and abstract sockets), the
// watchdog interval read from the environment, and the daemon under Type=notify: READY=1 once it
// serves, WATCHDOG=1 while the poll loop turns, STOPPING=1 when it drains.
#include "app/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/daemon.h"
#include "testing/fixtures.h"
#include "testing/mock_kafka.h"
#include "testing/traffic.h"

namespace smetsmon::app {
namespace {

// A datagram socket standing in for systemd's notification socket; binds `name` (a path, or an
// abstract name when it starts with '@'), sets NOTIFY_SOCKET to it and unsets it when destroyed.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') address.sun_path[0] = '\0';
    if (name[0] == '/') std::filesystem::remove(name);
    const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0;
    timeval timeout{30, 0};  // a bounded wait for each datagram, never a sleep
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
    if (name_[0] == '/') std::filesystem::remove(name_);
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" after the timeout.
  std::string Receive() {
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotifyTest, SendsTheStateToAPathSocket) {
  NotifySocket socket(testing::TempPath("notify.sock"));
  ASSERT_TRUE(socket.bound());
  ASSERT_TRUE(SdNotify("READY=1\nSTATUS=consuming").ok());
  EXPECT_EQ(socket.Receive(), "READY=1\nSTATUS=consuming");
}

TEST(SdNotifyTest, SendsTheStateToAnAbstractSocket) {
  NotifySocket socket(absl::StrCat("@smetsmon-notify-test-", getpid()));
  ASSERT_TRUE(socket.bound());
  ASSERT_TRUE(SdNotify("WATCHDOG=1").ok());
  EXPECT_EQ(socket.Receive(), "WATCHDOG=1");
}

TEST(SdNotifyTest, DoesNothingOutsideSystemdAndRefusesANonSocketAddress) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(SdNotify("READY=1").ok());
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(SdNotify("READY=1").ok());
  setenv("NOTIFY_SOCKET", testing::TempPath("nobody-listens.sock").c_str(), 1);
  EXPECT_FALSE(SdNotify("READY=1").ok());  // nothing bound there
  unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, WatchdogIntervalIsForThisProcessOnly) {
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  EXPECT_FALSE(WatchdogInterval().has_value());
  setenv("WATCHDOG_USEC", "30000000", 1);
  ASSERT_TRUE(WatchdogInterval().has_value());
  EXPECT_EQ(WatchdogInterval()->count(), 30'000'000);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_TRUE(WatchdogInterval().has_value());
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  EXPECT_FALSE(WatchdogInterval().has_value());
  unsetenv("WATCHDOG_PID");
  setenv("WATCHDOG_USEC", "soon", 1);
  EXPECT_FALSE(WatchdogInterval().has_value());
  unsetenv("WATCHDOG_USEC");
}

TEST(SdNotifyTest, TheDaemonSaysReadyFeedsTheWatchdogAndSaysStopping) {
  testing::MockKafka kafka;
  auto ref = testing::LoadTestReference();
  testing::ProduceTraffic(kafka, ref, 200, 2, "smets.alerts",
                          testing::TempPath("notify-inventory.csv"));
  auto settings = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(settings.ok()) << settings.status();
  settings->kafka.properties["bootstrap.servers"] = kafka.bootstraps();
  settings->kafka.properties["group.id"] = "sd-notify-test";
  settings->http_listen = "127.0.0.1:0";
  NotifySocket socket(testing::TempPath("daemon-notify.sock"));
  ASSERT_TRUE(socket.bound());
  setenv("WATCHDOG_USEC", "100000", 1);  // fed every 50 ms while the poll loop turns
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  std::vector<std::string> received;
  std::thread listener;
  DaemonHooks hooks;
  hooks.on_started = [&](Daemon& d, uint16_t) {
    listener = std::thread([&, ingest = d.ingest.get()] {
      // READY=1 comes after this hook returns, then the watchdog's feeds.
      for (std::string s = socket.Receive(); !s.empty(); s = socket.Receive()) {
        received.push_back(s);
        if (s == "WATCHDOG=1") break;
      }
      ingest->Stop();
      received.push_back(socket.Receive());  // STOPPING=1
    });
  };
  const absl::Status run = RunDaemon(*settings, hooks);
  listener.join();
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_EQ(received.size(), 3u) << absl::StrJoin(received, " | ");
  EXPECT_EQ(received[0], "READY=1\nSTATUS=consuming");
  EXPECT_EQ(received[1], "WATCHDOG=1");
  EXPECT_EQ(received[2], "STOPPING=1");
}

}  // namespace
}  // namespace smetsmon::app
