// Webhook delivery: turns finding state changes into Alertmanager-format notifications for the
// receivers that want them, keeps them in a durable spool, and POSTs them with retries.
//
//   rules thread ── Enqueue(finding, resolved) ──> spool files + per-receiver queues
//   delivery thread (Start) or a test (Pump) ──> one request in flight per receiver
//
// Per request: `Content-Type: application/json`, `X-Smetsmon-Signature: sha256=<hex HMAC-SHA256
// of the body with the receiver's secret>`, `X-Smetsmon-Timestamp: <unix seconds of the
// attempt>`, `Idempotency-Key: <32 hex>`, `X-Smetsmon-Attempt: <1, 2, ...>`. The body is fixed
// when the notification is spooled, so a retry is byte-for-byte the same request.
// Outcomes: 2xx delivered; 5xx, 408, 429 (Retry-After honoured), connection errors and timeouts
// are retried with exponential backoff and jitter; any other status is a rejection (no retry,
// dead-lettered). A notification older than max_age is dead-lettered. Both log a warn line
// naming the receiver and are counted.
//
// Idempotency-Key: IdempotencyKey(receiver, finding id, firing/resolved, severity, n), never
// from a clock. n numbers the firing notifications of one finding to one receiver: 1 when it
// opens (or when a receiver starts matching it), then +1 at each severity change, so a finding
// whose severity flips (warning -> critical -> warning -> critical, as a storm or DNO flood rate
// moves around its threshold) gives 4 distinct keys and a receiver that drops seen keys misses
// none of them. A resolved notification has n = 0, a fixed marker: a finding resolves once (one
// id, one episode, see below), so (receiver, id, resolved) already names one notification, and it
// is sent to receivers whose count is unknown (told.state lost) with the same key. n is kept per
// finding per receiver in told.state, so the numbering continues after a restart, and the same
// traffic replayed from the same told state (or from none) yields the same keys. A retry is the
// same spooled notification: the same key, byte-for-byte the same body.
// One key is one notification: the spool file is named after it (`<key>.ntf`), and a
// notification whose key is already pending is not spooled again (the pending one, with its
// attempts and backoff, stands for it). The told n is never behind a pending file's (Create
// raises it), so with numbered keys this is a safeguard: it matters only when what was told is
// forgotten while a notification is pending (say a resolved id pushed out of the last 4096).
//
// What each receiver was told survives a restart: `<spool_dir>/told.state` (state_file.h:
// written atomically, checksummed) holds the findings told firing (severity, and for each
// receiver told, by name, the n of its last firing notification) and the ids recently resolved
// (the last 4096, in order). It is rewritten after the notifications of a change are spooled (so
// a crash in between leaves a spooled notification the restarted dispatcher recognises, with its
// n, never a receiver told nothing) and loaded by Create; pending spool files are applied on top
// of it (a pending n above the told one raises it). When a receiver has two pending files of one
// finding (a crash between writing the newer and deleting the older), the newest (resolved, else
// the highest n) stands and the others are deleted, counted as superseded. A file that cannot
// be read is logged, renamed to `told.state.corrupt` and the dispatcher starts as if nothing had
// been told (numbering starts again at 1: the same keys as the first run's, for the same news).
// Receivers no longer configured are dropped from it; a new receiver has been told nothing.
//
// After a crash: the daemon restores its last checkpoint (written every `checkpoint.interval`,
// 30 s by default) and re-reads the events since, and the rules re-derive the same transitions.
// told.state is always the latest (never rolled back to the checkpoint), so re-derived states the
// receivers were told are no-ops: an open finding at the severity told is not sent again, a
// resolved one is not sent again. Except severity changes: those that happened between the
// checkpoint and the crash are sent again, with new keys (higher n), so receivers get them twice,
// and a finding whose told severity differs from the checkpoint's is first sent at the checkpoint's
// severity, then at the later ones again as the events are re-read (warning at the checkpoint,
// critical before the crash: the receiver hears warning, then critical, again). The last
// notification always carries the current severity.
//
// A finding id names one episode ("<kind>:<scope>:<start>"): once resolved it never fires
// again. Enqueue(f, resolved=false) for an id resolved earlier is ignored (counted in
// refires_ignored, and per receiver it matches in ReceiverStats): after a restart the restored
// evaluator can hold a finding open for a while that was closed, and notified, before the
// restart, until the re-read events close it again.
//
// Final tally. A finding can close while its figures still count late data (rules::Tally: a
// power outage counts restorations for outages.final_tally_after after it closes). Its resolved
// notification goes at close, with the figures at close (annotation figures_final "false",
// final_tally_at); once the finding is given with its figures final, the receivers told resolved
// get one more notification of it: status "resolved" again, figures_final "true", the final
// figures, under its own key (FinalTallyKey). It never re-opens or pages: the finding stays
// resolved. A finding already final when it resolves gets only its resolved notification. Who is
// owed a final tally survives a restart (told.state `awaiting_final:` lines, and the `tally:` line
// of a pending spool file), at most the last 4096 findings.
//
// Order: each receiver's queue is ordered by (priority, next attempt time): critical findings go
// before warnings before info, and an item waiting out its backoff never holds back a ready one.
// Receivers are independent: each has its own queue, request slot and circuit breaker, so one
// that is down or slow does not delay the others. A newer state of a finding supersedes an older
// notification for the same receiver that has not been delivered yet (firing then resolved while
// the receiver is down delivers only "resolved"), so a receiver never sees states out of order.
//
// Spool bounds: the pending spool holds at most config.spool_max_bytes bytes and
// config.spool_max_files files (the sum of the pending files' sizes and their number, kept in
// memory: counted from what Reload read at start, so the caps hold across restarts, and updated
// at each save and delete; nothing scans the directory). When spooling a new notification would
// take it over either cap, pending notifications are evicted to make room: the lowest priority
// first (info, then warning, then critical), then the oldest (created_ms), each dead-lettered to
// dead/ with the reason ("evicted: spool over its byte cap (N bytes)"), logged and counted
// (ReceiverStats::spool_evicted), never dropped silently. The new notification competes too: when
// everything evictable outranks it (a higher priority, or the same priority and older), it is
// the one dead-lettered (and not counted as spooled), and nothing pending is evicted; so is one
// larger than the byte cap on its own. A notification in flight is not evictable, nor is the one
// the new notification supersedes (its file goes anyway, so its room counts as free). A
// dead-lettered new notification still supersedes the older state of its finding: that state is
// out of date. The caps are checked when a new notification is spooled (a retry rewriting its
// file a few bytes longer is not): a spool reloaded over caps lowered since is brought under
// them at the next save.
//
// Time domain: every interval (backoff, max age, circuit breaker, the delivery thread's waits) is
// measured on the monotonic clock (Clock::MonotonicNs), so a wall clock stepped forward by hours
// dead-letters nothing early and one stepped back delays nothing. The wall clock (Clock::Now) is
// used only for what people and receivers see or what is stored: created_ms/next_attempt_ms in the
// spool files (and the payload's times), X-Smetsmon-Timestamp. A notification reloaded from the
// spool has no monotonic origin: its age at load is the wall time since created_ms, never less
// than 0 (a clock stepped back restarts it) and at most max_age - kReloadGraceMs (a clock stepped
// forward, or a long downtime, still leaves it a minute of attempts); its next attempt is at most
// the longest backoff away. Payload times are the finding's event times. Network timeouts are
// real steady-clock timers.
// Keys and the told state do not depend on time, only on the sequence of states enqueued.
// Thread-safety: Enqueue, Stats, pending and refires_ignored may be called from any thread. Pump
// is for tests and must not be mixed with Start; Start/Stop from the owning thread. Destroying
// the dispatcher stops the delivery thread; whatever is pending stays in the spool and is
// reloaded by the next Create.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
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
#include "webhook/state_file.h"

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
  // Spool file writes that failed: the notification stays queued in memory and its file is
  // written again at each failed attempt (a restart before one succeeds would lose it).
  uint64_t spool_write_errors = 0;
  size_t queue_depth = 0;                 // pending notifications, including one in flight
  double oldest_pending_age_seconds = 0;  // 0 when nothing is pending
  CircuitState circuit = CircuitState::kClosed;
  uint64_t circuit_opened = 0;  // times the breaker opened
  // Firing calls for a finding already resolved that matched this receiver (not sent).
  uint64_t refires_ignored = 0;
  // Notifications dead-lettered to keep the spool under its caps (pending ones evicted, and new
  // ones dead-lettered instead because everything pending outranked them).
  uint64_t spool_evicted = 0;
};

// The pending spool's size (all receivers), as tracked by the dispatcher.
struct SpoolUsage {
  uint64_t bytes = 0;
  uint64_t files = 0;
};

// The Idempotency-Key of a notification: the first 32 hex digits of SHA-256 over receiver,
// finding id, "firing" or "resolved", the severity name and `n`: the number of this firing
// notification of the finding to the receiver (1, 2, ...), 0 for a resolved one (see above).
std::string IdempotencyKey(const std::string& receiver, const std::string& finding_id,
                           bool resolved, rules::Severity severity, uint32_t n);
// The key of a finding's final-tally update: as IdempotencyKey over "final" instead of
// "firing"/"resolved", n = 0 (one per finding and receiver).
std::string FinalTallyKey(const std::string& receiver, const std::string& finding_id,
                          rules::Severity severity);

// What the receivers were told, in the spool directory (see above).
inline constexpr char kToldStateFile[] = "told.state";
// A notification reloaded from the spool gets at least this long (or max_age, when shorter)
// before its max age can dead-letter it, whatever the wall clock says it missed.
inline constexpr int64_t kReloadGraceMs = 60'000;

class Dispatcher {
 public:
  // Opens (creates) the spool, loads told.state, reloads what is pending in the spool, and
  // prepares TLS contexts. A pending file for a receiver no longer configured is dead-lettered
  // with a log line; an unreadable told.state is set aside with one.
  // `areas` is copied; `clock` must outlive the dispatcher.
  static absl::StatusOr<std::unique_ptr<Dispatcher>> Create(WebhookConfig config,
                                                            const catalog::AreaTable& areas,
                                                            const Clock& clock);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // A finding's state: call with every open finding (resolved=false) and with each closed one
  // (resolved=true); repeated calls without a change are no-ops, and so is a firing call for
  // a finding already resolved. One notification is spooled per matching receiver when the
  // finding opens, when its severity changes, and when it closes (to the receivers told it was
  // firing, if they want resolved ones), and, for a finding that closed still counting, when its
  // figures are final (to the receivers told it resolved), unless one with the same key is
  // pending.
  // Returns how many were spooled; an error means a spool file or told.state could not be
  // written (the notifications are still queued in memory but would not survive a restart).
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
  SpoolUsage spool_usage() const;
  // Firing calls ignored because the finding had resolved already (all receivers; the per
  // receiver count is in Stats).
  uint64_t refires_ignored() const;
  const WebhookConfig& config() const { return config_; }

 private:
  struct Item {
    Notification n;
    // Monotonic ms: when its age started (max age counts from here) and when it may be sent.
    int64_t born_mono_ms = 0;
    int64_t next_mono_ms = 0;
    size_t lane = 0;
    uint64_t seq = 0;
    bool in_flight = false;
    bool superseded = false;
    size_t file_bytes = 0;  // EncodedSize(n) when last saved
  };
  struct Lane {
    ReceiverConfig config;
    std::unique_ptr<boost::asio::ssl::context> tls;
    // Ready order per priority (index = priority): (next attempt, monotonic ms; seq).
    std::set<std::pair<int64_t, uint64_t>> queue[3];
    std::map<std::string, uint64_t> latest_by_finding;  // newest pending seq per finding
    CircuitBreaker breaker;
    bool busy = false;
    ReceiverStats stats;
  };
  struct Tracked {  // a finding seen firing: its severity and who was told
    rules::Severity severity = rules::Severity::kInfo;
    // By lane: n of the last firing notification spooled to that receiver; 0: told nothing.
    std::vector<uint32_t> told;
  };
  struct Job {
    size_t lane;
    uint64_t seq;
    PostRequest request;
  };

  Dispatcher(WebhookConfig config, const catalog::AreaTable& areas, const Clock& clock,
             Spool spool);
  absl::Status Reload();
  // Under mu_: adds a notification (superseding an older one of the same finding) whose pending
  // file is `file_bytes` long.
  void AddLocked(Notification n, size_t lane, int64_t born_mono_ms, int64_t next_mono_ms,
                 size_t file_bytes);
  // Under mu_: the pending notification of `finding_id` to `lane`, if any, is replaced by a newer
  // state: deleted, or marked to be dropped when its request completes if in flight.
  void SupersedeLocked(size_t lane, const std::string& finding_id);
  // Under mu_: makes room in the spool for `n` (to `lane`, `file_bytes` long) by evicting
  // pending notifications (see above); false when `n` itself must be dead-lettered instead
  // (done here, counted).
  bool MakeRoomLocked(const Notification& n, size_t lane, size_t file_bytes);
  // Under mu_: dead-letters `n` (of `lane`) with `reason`, logged and counted as evicted; the
  // caller removes its item, if it has one.
  void DeadLetterEvictedLocked(const Notification& n, size_t lane, const std::string& reason);
  void QueueLocked(const Item& item);
  void UnqueueLocked(const Item& item);
  void EraseLocked(uint64_t seq);
  // `mono_ms`: the monotonic clock in ms (intervals); `wall_ms`: the wall clock (shown, stored).
  void ExpireLocked(int64_t mono_ms);
  std::vector<Job> TakeReadyLocked(int64_t wall_ms, int64_t mono_ms);
  void StartJobs(std::vector<Job> jobs);
  void OnResult(size_t lane, uint64_t seq, HttpResult result);
  int64_t NextWakeMsLocked(int64_t mono_ms) const;
  int64_t MonoMs() const { return clock_.MonotonicNs() / 1'000'000; }
  void RunLoop();
  // Under mu_: true when a notification with `key` is pending (then it stands for the new one;
  // one that was superseded while in flight becomes the finding's current notification again).
  bool KeepPendingLocked(const std::string& key);
  // Under mu_: records `id` as resolved (no longer firing, in the bounded recent list).
  void MarkResolvedLocked(const std::string& id);
  // Under mu_: records that `lane` is owed the final tally of `id` (bounded, oldest dropped).
  void AwaitFinalLocked(const std::string& id, size_t lane);
  // Under mu_: a reloaded notification's part in what was told; true when it changed anything.
  bool ApplyReloadedLocked(const Notification& n, size_t lane);
  // told.state: read at Create (before the spool), encoded under mu_, written outside it.
  void LoadTold();
  std::vector<StateLine> EncodeToldLocked() const;
  absl::Status WriteTold(uint64_t version, const std::vector<StateLine>& lines);

  const WebhookConfig config_;
  const catalog::AreaTable areas_;
  const Clock& clock_;
  const Spool spool_;

  mutable std::mutex mu_;  // guards everything below except the io_context
  std::vector<Lane> lanes_;
  std::unordered_map<uint64_t, Item> items_;
  std::unordered_map<std::string, uint64_t> by_key_;  // key -> seq: one item (and file) per key
  // Every item in eviction order: (priority, created_ms, seq), the first evicted first.
  std::set<std::tuple<int, int64_t, uint64_t>> eviction_order_;
  uint64_t spool_bytes_ = 0;  // sum of the items' file_bytes (the spool's files: items_.size())
  std::map<std::string, Tracked> firing_;
  std::set<std::string> recently_resolved_;
  std::deque<std::string> recently_resolved_order_;  // oldest first
  struct AwaitingFinal {  // a finding resolved while counting: who is owed its final tally
    uint64_t seq = 0;     // insertion order, to drop the oldest beyond capacity
    std::vector<bool> lanes;
  };
  std::map<std::string, AwaitingFinal> awaiting_final_;
  uint64_t next_awaiting_seq_ = 1;
  uint64_t next_seq_ = 1;
  uint64_t refires_ignored_ = 0;
  uint64_t told_version_ = 0;  // bumped on each change of firing_ / recently_resolved_

  std::mutex told_write_mu_;  // serialises told.state writes; taken without mu_ held
  std::atomic<uint64_t> told_written_version_{0};
  bool told_write_failing_ = false;  // under told_write_mu_: log a failing disk once
  size_t in_flight_ = 0;             // touched only on the delivery (io) thread

  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
  // Last: destroyed first, so pending handlers never outlive the lanes they point into.
  std::unique_ptr<boost::asio::io_context> io_;
};

}  // namespace smetsmon::webhook
