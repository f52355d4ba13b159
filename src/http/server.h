// A small HTTP/1.1 server on Boost.Beast for the daemon's endpoints (health, readiness, metrics,
// the API). Shape of the Beast examples: an acceptor, one session per connection, a timeout on
// every phase, one response in flight per connection.
//
// What it refuses, each counted in ServerStats by reason (smetsmon_http_rejected_total):
//   - a connection beyond `max_connections` open at once: answered 503 and closed at once;
//   - a request header over `header_limit_bytes`: 431 and closed;
//   - a request body over `body_limit_bytes`: 413 and closed (the rest is not read);
//   - a client (source IP) over its token bucket: 429 with Retry-After (the connection stays);
//   - a request not read in full within `read_timeout_ms`, a response not written within
//     `write_timeout_ms`, a keep-alive connection idle past `idle_timeout_ms`: closed;
//   - a malformed request: 400 and closed; a method other than GET, HEAD, POST: 405.
//
// Thread-safety: runs on the io_context it is given, which must run on one thread; the handler is
// called on that thread and must not block it; its responder may be called from any thread.
// ServerStats may be read from any thread.
// Time domain: timeouts on Asio's steady clock; the rate limiter on `clock.MonotonicNs()`.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "smetsmon/clock.h"

namespace boost::asio {
class io_context;
}

namespace smetsmon::http {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  int64_t retry_after_s = 0;  // > 0: sent as a Retry-After header
  std::string cache_control;  // non-empty: sent as a Cache-Control header
};

// The default largest request body read (the API's POSTs are small JSON objects).
inline constexpr size_t kMaxRequestBodyBytes = 64 * 1024;

struct ServerOptions {
  size_t max_connections = 256;
  size_t header_limit_bytes = 16 * 1024;
  size_t body_limit_bytes = kMaxRequestBodyBytes;
  int64_t read_timeout_ms = 10'000;   // one request, header and body
  int64_t write_timeout_ms = 10'000;  // one response
  int64_t idle_timeout_ms = 60'000;   // a keep-alive connection waiting for its next request
  // How long the handler has to answer before the client gets a 503.
  int64_t answer_timeout_ms = 10'000;
  // Per-client token bucket: `rate_per_s` requests a second, bursts of `rate_burst`; 0 turns it
  // off. Generous: a Prometheus scraping every second and a dashboard never meet it.
  double rate_per_s = 50;
  double rate_burst = 200;
  // Clients tracked at once; past it, clients not in the table share one bucket.
  size_t rate_max_clients = 4096;
  const Clock* clock = nullptr;  // the rate limiter's time; null: the system clock
};

// Why a connection or request was refused: the `reason` label.
enum class RejectReason : uint8_t {
  kConnections,     // over max_connections
  kHeaderTooLarge,  // 431
  kBodyTooLarge,    // 413
  kRateLimited,     // 429
  kTimeout,         // read, write or idle timeout
  kBadRequest,      // 400
};
inline constexpr size_t kRejectReasons = 6;
std::string_view RejectReasonName(RejectReason r);

struct ServerStats {
  std::array<std::atomic<uint64_t>, kRejectReasons> rejected{};
  std::atomic<int64_t> open_connections{0};
  uint64_t Rejected(RejectReason r) const {
    return rejected[static_cast<size_t>(r)].load(std::memory_order_relaxed);
  }
  void Reject(RejectReason r) {
    rejected[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
};

// Per-client token buckets, keyed by the client's address. At most `max_clients` are kept: a full
// bucket is the same as no bucket, so full ones are dropped first; clients that still find no room
// share one overflow bucket (a flood of addresses slows itself, not the known clients).
// Thread-safety: one thread. Time domain: monotonic nanoseconds, given.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst, size_t max_clients)
      : rate_per_s_(rate_per_s), burst_(burst), max_clients_(max_clients) {}
  // Takes a token for `client`; when none is left, returns false and the seconds (at least 1)
  // until one is.
  bool Allow(const std::string& client, int64_t now_ns, int64_t* retry_after_s);
  size_t clients() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ns = 0;
  };
  bool Take(Bucket& b, int64_t now_ns, int64_t* retry_after_s) const;
  double rate_per_s_;
  double burst_;
  size_t max_clients_;
  std::unordered_map<std::string, Bucket> buckets_;
  Bucket overflow_;
  bool overflow_started_ = false;
};

struct Request {
  std::string method;         // "GET", "HEAD" or "POST"
  std::string target;         // path and query string
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;           // at most the body limit
};

// Answers a request by calling `respond` once, from any thread, now or later (a device query
// answered by the worker that owns the device): the io thread never waits for it. A request not
// answered within the answer timeout gets a 503.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(const Request& request, Responder respond)>;

class Server {
 public:
  // Binds "host:port" (port 0 picks a free port) and starts accepting on `io`.
  static absl::StatusOr<std::unique_ptr<Server>> Start(boost::asio::io_context& io,
                                                       const std::string& listen, Handler handler,
                                                       ServerOptions options = {});
  ~Server();
  uint16_t port() const;
  // Shared: sessions may outlive the server.
  std::shared_ptr<const ServerStats> stats() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `host` of a "host:port" listen address is a loopback address (127.0.0.0/8, ::1,
// localhost).
bool IsLoopbackListen(const std::string& listen);

}  // namespace smetsmon::http
