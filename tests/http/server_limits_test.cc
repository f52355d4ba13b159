// The HTTP server's limits: connection cap, header and body limits, per-client rate limit and
// read timeout, each refused as documented and counted by reason. Port 0, raw sockets, a manual
// clock for the rate limiter.
#include "http/server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <thread>

#include "testing/net.h"

namespace smetsmon::http {
namespace {

// A connected loopback socket; closed when it goes out of scope.
class Conn {
 public:
  explicit Conn(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Conn() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) {
    for (size_t sent = 0; sent < s.size();) {
      const ssize_t n = ::write(fd_, s.data() + sent, s.size() - sent);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  // Reads until `until` appears in what was read or the peer closes; returns what was read.
  std::string ReadUntil(const std::string& until) {
    std::string out;
    char buf[4096];
    while (until.empty() || out.find(until) == std::string::npos) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::atoi(response.c_str() + 9) : -1;
}

// A server on loopback port 0 whose handler answers "ok" to everything, on an io thread.
class ServerFixture {
 public:
  explicit ServerFixture(ServerOptions options) {
    auto s = Server::Start(
        io_, "127.0.0.1:0",
        [](const Request& request, Responder respond) {
          Response r{200, "text/plain", "ok"};
          if (request.target == "/cached") r.cache_control = "no-cache";
          respond(std::move(r));
        },
        options);
    EXPECT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerFixture() {
    io_.stop();
    thread_.join();
    server_.reset();
  }
  uint16_t port() const { return port_ != 0 ? port_ : (port_ = server_->port()); }
  const ServerStats& stats() const { return *stats_ptr(); }

 private:
  std::shared_ptr<const ServerStats> stats_ptr() const {
    if (!stats_) stats_ = server_->stats();
    return stats_;
  }
  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  mutable uint16_t port_ = 0;
  mutable std::shared_ptr<const ServerStats> stats_;
};

const std::string kGetKeepAlive = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
const std::string kGetClose = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

TEST(ServerLimitsTest, AConnectionOverTheCapIsAnswered503AndCounted) {
  ServerOptions o;
  o.max_connections = 2;
  ServerFixture f(o);
  const uint16_t port = f.port();
  (void)f.stats();
  // Two connections held open, each known to the server (it answered them).
  Conn a(port), b(port);
  a.Send(kGetKeepAlive);
  ASSERT_NE(a.ReadUntil("ok").find("200 OK"), std::string::npos);
  b.Send(kGetKeepAlive);
  ASSERT_NE(b.ReadUntil("ok").find("200 OK"), std::string::npos);
  EXPECT_EQ(f.stats().open_connections.load(), 2);
  // The third is refused at once, without a request being read.
  Conn c(port);
  const std::string refused = c.ReadUntil("");
  EXPECT_EQ(StatusOf(refused), 503) << refused;
  EXPECT_NE(refused.find("too many connections"), std::string::npos);
  EXPECT_EQ(f.stats().Rejected(RejectReason::kConnections), 1u);
  // The held ones still work.
  a.Send(kGetClose);
  EXPECT_EQ(StatusOf(a.ReadUntil("")), 200);
}

TEST(ServerLimitsTest, AHeaderOverTheLimitIs431) {
  ServerOptions o;
  o.header_limit_bytes = 1024;
  ServerFixture f(o);
  (void)f.stats();
  const std::string big(2048, 'x');
  auto [status, body] =
      testing::HttpExchange(f.port(), "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_EQ(status, 431) << body;
  EXPECT_EQ(f.stats().Rejected(RejectReason::kHeaderTooLarge), 1u);
  // A header within the limit passes.
  auto [ok, ok_body] = testing::HttpExchange(
      f.port(), "GET / HTTP/1.1\r\nHost: a\r\nX-Small: " + std::string(100, 'x') +
                    "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ok, 200);
}

TEST(ServerLimitsTest, ABodyOverTheLimitIs413) {
  ServerOptions o;
  o.body_limit_bytes = 16;
  ServerFixture f(o);
  (void)f.stats();
  const std::string body(100, 'b');
  auto [status, text] = testing::HttpExchange(
      f.port(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + body);
  EXPECT_EQ(status, 413) << text;
  EXPECT_EQ(f.stats().Rejected(RejectReason::kBodyTooLarge), 1u);
  auto [ok, ok_text] = testing::HttpExchange(
      f.port(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\nConnection: close\r\n\r\n" +
                    std::string(16, 'b'));
  EXPECT_EQ(ok, 200);
}

TEST(ServerLimitsTest, AClientOverItsRateIs429WithRetryAfterUntilTokensRefill) {
  ManualClock clock(ProcessingTime{1'000'000});
  ServerOptions o;
  o.rate_per_s = 1;
  o.rate_burst = 2;
  o.clock = &clock;
  ServerFixture f(o);
  (void)f.stats();
  Conn c(f.port());
  // The burst, then a refusal on the same kept-alive connection.
  for (int i = 0; i < 2; ++i) {
    c.Send(kGetKeepAlive);
    EXPECT_EQ(StatusOf(c.ReadUntil("ok")), 200);
  }
  c.Send(kGetKeepAlive);
  const std::string limited = c.ReadUntil("requests\"}");
  EXPECT_EQ(StatusOf(limited), 429) << limited;
  EXPECT_NE(limited.find("Retry-After: 1\r\n"), std::string::npos) << limited;
  EXPECT_EQ(f.stats().Rejected(RejectReason::kRateLimited), 1u);
  // One second later, one token.
  clock.Advance(1000);
  c.Send(kGetKeepAlive);
  EXPECT_EQ(StatusOf(c.ReadUntil("ok")), 200);
  c.Send(kGetKeepAlive);
  EXPECT_EQ(StatusOf(c.ReadUntil("requests\"}")), 429);
  EXPECT_EQ(f.stats().Rejected(RejectReason::kRateLimited), 2u);
}

TEST(ServerLimitsTest, ARequestNotReadInTimeIsClosedAndCounted) {
  ServerOptions o;
  o.read_timeout_ms = 50;
  ServerFixture f(o);
  (void)f.stats();
  Conn c(f.port());
  c.Send("GET / HTTP/1.1\r\nHost: a\r\n");  // the header never ends
  EXPECT_EQ(c.ReadUntil(""), "");           // closed by the server, unanswered
  // Beast closes the socket when the timer fires; the read's completion, which counts the
  // timeout, runs on the server's thread after that, so the client can see the close first.
  EXPECT_TRUE(testing::WaitUntil([&] { return f.stats().Rejected(RejectReason::kTimeout) == 1u; },
                                 /*timeout_ms=*/10'000,
                                 /*step_ms=*/1));
  EXPECT_EQ(f.stats().Rejected(RejectReason::kTimeout), 1u);
}

TEST(ServerLimitsTest, ACacheControlIsSentOnlyWhenTheResponseHasOne) {
  ServerFixture f(ServerOptions{});
  Conn c(f.port());
  c.Send("GET /cached HTTP/1.1\r\nHost: a\r\n\r\n");
  const std::string cached = c.ReadUntil("ok");
  EXPECT_NE(cached.find("\r\nCache-Control: no-cache\r\n"), std::string::npos) << cached;
  c.Send(kGetClose);
  const std::string plain = c.ReadUntil("");
  EXPECT_EQ(StatusOf(plain), 200);
  EXPECT_EQ(plain.find("Cache-Control"), std::string::npos) << plain;
}

TEST(RateLimiterTest, TheClientTableIsBoundedAndNewcomersShareOneBucket) {
  RateLimiter limiter(/*rate_per_s=*/1, /*burst=*/1, /*max_clients=*/2);
  int64_t retry = 0;
  EXPECT_TRUE(limiter.Allow("a", 0, &retry));
  EXPECT_TRUE(limiter.Allow("b", 0, &retry));
  // Both tables entries are drained: "c" and "d" share the overflow bucket.
  EXPECT_TRUE(limiter.Allow("c", 0, &retry));
  EXPECT_FALSE(limiter.Allow("d", 0, &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_EQ(limiter.clients(), 2u);
  // Once "a" and "b" refill, they are dropped to make room.
  EXPECT_TRUE(limiter.Allow("e", 2'000'000'000, &retry));
  EXPECT_LE(limiter.clients(), 2u);
}

TEST(ListenTest, LoopbackAddressesAreRecognised) {
  EXPECT_TRUE(IsLoopbackListen("127.0.0.1:9477"));
  EXPECT_TRUE(IsLoopbackListen("127.3.0.1:9477"));
  EXPECT_TRUE(IsLoopbackListen("[::1]:9477"));
  EXPECT_TRUE(IsLoopbackListen("localhost:9477"));
  EXPECT_FALSE(IsLoopbackListen("0.0.0.0:9477"));
  EXPECT_FALSE(IsLoopbackListen("[::]:9477"));
  EXPECT_FALSE(IsLoopbackListen("10.1.2.3:9477"));
}

}  // namespace
}  // namespace smetsmon::http
