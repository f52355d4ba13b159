// Webhook delivery: turns finding state changes into Alertmanager-format notifications for the
// receivers that want them, keeps them in a durable spool, and POSTs them with retries.
//
//   rules thread ── Enqueue(finding, resolved) ──> spool files + per-receiver queues
//   delivery thread (Start) or a test (Pump) ──> one request in flight per receiver
//
// Per request: `Content-Type: application/json`, `X-Smetsmon-Signature: sha256=<hex HMAC-SHA256
// of the body with the receiver's secret>`, `X-Smetsmon-Timestamp: <unix seconds of the
// attempt>`, `Idempotency-Key: <32 hex, the same on every retry and after a restart>`,
// `X-Smetsmon-Attempt: <1, 2, ...>`. The body is fixed when the notification is spooled, so a
// retry is byte-for-byte the same request; a receiver dedupes on the key.
// Outcomes: 2xx delivered; 5xx, 408, 429 (Retry-After honoured), connection errors and timeouts
// are retried with exponential backoff and jitter; any other status is a rejection (no retry,
// dead-lettered). A notification older than max_age is dead-lettered. Both log a warn line
// naming the receiver and are counted.
//
// Order: each receiver's queue is ordered by (priority, next attempt time): critical findings go
// before warnings before info, and an item waiting out its backoff never holds back a ready one.
// Receivers are independent: each has its own queue, request slot and circuit breaker, so one
// that is down or slow does not delay the others. A newer state of a finding supersedes an older
// notification for the same receiver that has not been delivered yet (firing then resolved while
// the receiver is down delivers only "resolved"), so a receiver never sees states out of order.
//
// Time domain: processing time from the Clock seam (enqueue time, backoff, max age, breaker);
// payload times are the finding's event times. Network timeouts are real steady-clock timers.
// Thread-safety: Enqueue and Stats may be called from any thread. Pump is for tests and must not
// be mixed with Start; Start/Stop from the owning thread. Destroying the dispatcher stops the
// delivery thread; whatever is pending stays in the spool and is reloaded by the next Create.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/areas.h"
#include "rules/finding.h"
#include "smetsmon/clock.h"
#include "webhook/backoff.h"
#include "webhook/config.h"
#include "webhook/http_client.h"
#include "webhook/spool.h"

namespace boost::asio {
class io_context;
}

namespace smetsmon::webhook {

// Counters per receiver, for metrics (labels: receiver from config, outcome: a fixed set).
struct ReceiverStats {
  std::string receiver;
  uint64_t delivered = 0;      // 2xx
  uint64_t retried = 0;        // failed attempts scheduled again (5xx, 408, 429, errors)
  uint64_t dead_lettered = 0;  // past max age (or unreadable/unknown receiver at load)
  uint64_t rejected = 0;       // other 4xx (and 1xx/3xx): not retried, in dead/
  uint64_t superseded = 0;     // replaced by a newer state of the same finding before delivery
  size_t queue_depth = 0;      // pending notifications, including one in flight
  double oldest_pending_age_seconds = 0;  // 0 when nothing is pending
  CircuitState circuit = CircuitState::kClosed;
  uint64_t circuit_opened = 0;  // times the breaker opened
};

class Dispatcher {
 public:
  // Opens (creates) the spool, reloads what is pending there, and prepares TLS contexts. A
  // pending file for a receiver no longer configured is dead-lettered with a log line.
  // `areas` is copied; `clock` must outlive the dispatcher.
  static absl::StatusOr<std::unique_ptr<Dispatcher>> Create(WebhookConfig config,
                                                            const catalog::AreaTable& areas,
                                                            const Clock& clock);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // A finding's state: call with every open finding (resolved=false) and once with each closed
  // one (resolved=true); repeated calls without a change are no-ops. One notification is spooled
  // per matching receiver when the finding opens, when its severity changes, and when it closes
  // (to the receivers told it was firing, if they want resolved ones). Returns how many were
  // spooled; an error means a spool file could not be written (the notifications are still
  // queued in memory but would not survive a restart).
  absl::StatusOr<size_t> Enqueue(const rules::Finding& finding, bool resolved);

  // One synchronous delivery round (tests, or a caller's own loop): dead-letters what is past
  // max age, sends the best ready notification of every receiver whose circuit allows it, and
  // waits for those requests to finish. Returns the number of requests sent.
  size_t Pump();

  // Runs delivery on a thread of its own until Stop (or destruction). Stop is final.
  void Start();
  void Stop();

  std::vector<ReceiverStats> Stats() const;
  size_t pending() const;
  const WebhookConfig& config() const { return config_; }

 private:
  struct Item {
    Notification n;
    size_t lane = 0;
    uint64_t seq = 0;
    bool in_flight = false;
    bool superseded = false;
  };
  struct Lane {
    ReceiverConfig config;
    std::unique_ptr<boost::asio::ssl::context> tls;
    // Ready order per priority (index = priority): (next attempt ms, seq).
    std::set<std::pair<int64_t, uint64_t>> queue[3];
    std::map<std::string, uint64_t> latest_by_finding;  // newest pending seq per finding
    CircuitBreaker breaker;
    bool busy = false;
    ReceiverStats stats;
  };
  struct Tracked {  // a finding seen firing: its severity and who was told
    rules::Severity severity = rules::Severity::kInfo;
    std::vector<bool> notified;  // by lane
  };
  struct Job {
    size_t lane;
    uint64_t seq;
    PostRequest request;
  };

  Dispatcher(WebhookConfig config, const catalog::AreaTable& areas, const Clock& clock,
             Spool spool);
  absl::Status Reload();
  // Under mu_: adds a notification (superseding an older one of the same finding).
  void AddLocked(Notification n, size_t lane);
  void QueueLocked(const Item& item);
  void UnqueueLocked(const Item& item);
  void EraseLocked(uint64_t seq);
  void ExpireLocked(int64_t now_ms);
  std::vector<Job> TakeReadyLocked(int64_t now_ms);
  void StartJobs(std::vector<Job> jobs);
  void OnResult(size_t lane, uint64_t seq, HttpResult result);
  int64_t NextWakeMsLocked(int64_t now_ms) const;
  void RunLoop();
  std::string NewKeyLocked(const std::string& receiver, const rules::Finding& f, bool resolved,
                           int64_t now_ms);

  const WebhookConfig config_;
  const catalog::AreaTable areas_;
  const Clock& clock_;
  const Spool spool_;

  mutable std::mutex mu_;  // guards everything below except the io_context
  std::vector<Lane> lanes_;
  std::unordered_map<uint64_t, Item> items_;
  std::map<std::string, Tracked> firing_;
  std::set<std::string> recently_resolved_;
  std::deque<std::string> recently_resolved_order_;
  uint64_t next_seq_ = 1;
  size_t in_flight_ = 0;  // touched only on the delivery (io) thread

  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
  // Last: destroyed first, so pending handlers never outlive the lanes they point into.
  std::unique_ptr<boost::asio::io_context> io_;
};

}  // namespace smetsmon::webhook
