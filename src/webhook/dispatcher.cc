#include "webhook/dispatcher.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "smetsmon/status.h"
#include "webhook/payload.h"

namespace smetsmon::webhook {
namespace {

namespace asio = boost::asio;

constexpr size_t kRecentlyResolvedCapacity = 4096;
constexpr int64_t kMaxIdleWaitMs = 1000;  // the delivery thread looks at the queues this often
constexpr int64_t kMinIdleWaitMs = 5;

int PriorityOf(rules::Severity s) { return std::clamp(static_cast<int>(s), 0, 2); }

std::string Describe(const HttpResult& r) {
  return r.status != 0 ? absl::StrCat("HTTP ", r.status) : r.error;
}

}  // namespace

Dispatcher::Dispatcher(WebhookConfig config, const catalog::AreaTable& areas, const Clock& clock,
                       Spool spool)
    : config_(std::move(config)),
      areas_(areas),
      clock_(clock),
      spool_(std::move(spool)),
      io_(std::make_unique<asio::io_context>(1)) {
  lanes_.resize(config_.receivers.size());
  for (size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i].config = config_.receivers[i];
    lanes_[i].breaker = CircuitBreaker(config_.circuit_breaker);
    lanes_[i].stats.receiver = config_.receivers[i].name;
  }
}

absl::StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Create(WebhookConfig config,
                                                               const catalog::AreaTable& areas,
                                                               const Clock& clock) {
  SMETSMON_ASSIGN_OR_RETURN(Spool spool, Spool::Open(config.spool_dir));
  std::unique_ptr<Dispatcher> d(new Dispatcher(std::move(config), areas, clock, std::move(spool)));
  for (Lane& lane : d->lanes_) {
    if (!lane.config.url.tls) continue;
    auto ctx = MakeClientTlsContext(lane.config.tls);
    if (!ctx.ok()) {
      return absl::Status(ctx.status().code(), absl::StrCat("webhook receiver ", lane.config.name,
                                                            ": ", ctx.status().message()));
    }
    lane.tls = *std::move(ctx);
  }
  SMETSMON_RETURN_IF_ERROR(d->Reload());
  return d;
}

Dispatcher::~Dispatcher() { Stop(); }

absl::Status Dispatcher::Reload() {
  SMETSMON_ASSIGN_OR_RETURN(Spool::Loaded loaded, spool_.Load());
  for (const std::string& bad : loaded.bad) {
    Log(LogLevel::kWarn, "webhook spool file unreadable, moved to dead/",
        {{"dir", spool_.dir()}, {"file", bad}});
  }
  // Oldest first, firing before resolved: a later state of a finding supersedes an earlier one
  // (both can be on disk after a crash between writing the new and deleting the old).
  std::sort(loaded.pending.begin(), loaded.pending.end(),
            [](const Notification& a, const Notification& b) {
              return std::tie(a.created_ms, a.resolved, a.key) <
                     std::tie(b.created_ms, b.resolved, b.key);
            });
  std::lock_guard lock(mu_);
  size_t restored = 0;
  for (Notification& n : loaded.pending) {
    const auto lane = std::find_if(lanes_.begin(), lanes_.end(),
                                   [&](const Lane& l) { return l.config.name == n.receiver; });
    if (lane == lanes_.end()) {
      Log(LogLevel::kWarn, "webhook notification dead-lettered",
          {{"receiver", n.receiver},
           {"reason", "receiver not configured"},
           {"finding", n.finding_id},
           {"key", n.key}});
      if (absl::Status s = spool_.DeadLetter(n, "receiver not configured"); !s.ok()) {
        Log(LogLevel::kError, "webhook spool write failed", {{"error", s.ToString()}});
      }
      continue;
    }
    AddLocked(std::move(n), static_cast<size_t>(lane - lanes_.begin()));
    ++restored;
  }
  if (restored > 0) {
    Log(LogLevel::kInfo, "webhook notifications reloaded from spool",
        {{"dir", spool_.dir()}, {"count", absl::StrCat(items_.size())}});
  }
  return absl::OkStatus();
}

std::string Dispatcher::NewKeyLocked(const std::string& receiver, const rules::Finding& f,
                                     bool resolved, int64_t now_ms) {
  // Unique per notification (the sequence number separates equal states at the same
  // millisecond); stored in the spool so retries and restarts reuse it.
  return Sha256Hex(absl::StrCat(receiver, "\n", f.id, "\n", resolved ? "resolved" : "firing", "\n",
                                rules::SeverityName(f.severity), "\n", now_ms, "\n", next_seq_))
      .substr(0, 32);
}

absl::StatusOr<size_t> Dispatcher::Enqueue(const rules::Finding& f, bool resolved) {
  const int64_t now = clock_.Now().ms;
  absl::Status first_error;
  size_t spooled = 0;
  {
    std::lock_guard lock(mu_);
    std::vector<size_t> targets;
    if (!resolved) {
      auto it = firing_.find(f.id);
      if (it != firing_.end() && it->second.severity == f.severity) return size_t{0};
      recently_resolved_.erase(f.id);
      if (it == firing_.end()) {
        it = firing_.emplace(f.id, Tracked{f.severity, std::vector<bool>(lanes_.size())}).first;
      }
      Tracked& t = it->second;
      t.severity = f.severity;
      for (size_t i = 0; i < lanes_.size(); ++i) {
        // A receiver already told it is firing hears about the new severity even if it would
        // no longer match its min_severity: otherwise it would keep the old one forever.
        if (t.notified[i] || Matches(lanes_[i].config, f, areas_)) {
          targets.push_back(i);
          t.notified[i] = true;
        }
      }
    } else {
      if (recently_resolved_.count(f.id) != 0) return size_t{0};
      const auto it = firing_.find(f.id);
      for (size_t i = 0; i < lanes_.size(); ++i) {
        if (!lanes_[i].config.send_resolved) continue;
        const bool told =
            it != firing_.end() ? it->second.notified[i] : Matches(lanes_[i].config, f, areas_);
        if (told) targets.push_back(i);
      }
      if (it != firing_.end()) firing_.erase(it);
      recently_resolved_.insert(f.id);
      recently_resolved_order_.push_back(f.id);
      while (recently_resolved_order_.size() > kRecentlyResolvedCapacity) {
        recently_resolved_.erase(recently_resolved_order_.front());
        recently_resolved_order_.pop_front();
      }
    }
    for (size_t lane : targets) {
      const ReceiverConfig& rc = lanes_[lane].config;
      Notification n;
      n.receiver = rc.name;
      n.finding_id = f.id;
      n.resolved = resolved;
      n.priority = PriorityOf(f.severity);
      n.created_ms = now;
      n.next_attempt_ms = now;
      n.key = NewKeyLocked(rc.name, f, resolved, now);
      n.body = BuildAlertmanagerPayload(f, resolved, rc.name, config_.external_url, areas_,
                                        ProcessingTime{now});
      if (absl::Status s = spool_.Save(n); !s.ok()) {
        Log(LogLevel::kError, "webhook spool write failed: notification kept in memory only",
            {{"receiver", rc.name}, {"finding", f.id}, {"error", s.ToString()}});
        if (first_error.ok()) first_error = s;
      }
      AddLocked(std::move(n), lane);
      ++spooled;
    }
  }
  if (spooled > 0 && running_.load()) asio::post(*io_, [] {});  // wake the delivery thread
  if (!first_error.ok()) return first_error;
  return spooled;
}

void Dispatcher::AddLocked(Notification n, size_t lane) {
  Lane& l = lanes_[lane];
  if (auto prev = l.latest_by_finding.find(n.finding_id); prev != l.latest_by_finding.end()) {
    Item& old = items_.at(prev->second);
    ++l.stats.superseded;
    if (old.in_flight) {
      old.superseded = true;  // OnResult drops it instead of retrying
    } else {
      UnqueueLocked(old);
      if (absl::Status s = spool_.Remove(old.n); !s.ok()) {
        Log(LogLevel::kError, "webhook spool delete failed", {{"error", s.ToString()}});
      }
      items_.erase(old.seq);
    }
  }
  Item item;
  item.seq = next_seq_++;
  item.lane = lane;
  item.n = std::move(n);
  l.latest_by_finding[item.n.finding_id] = item.seq;
  QueueLocked(item);
  const uint64_t seq = item.seq;
  items_.emplace(seq, std::move(item));
}

void Dispatcher::QueueLocked(const Item& item) {
  lanes_[item.lane].queue[item.n.priority].emplace(item.n.next_attempt_ms, item.seq);
}

void Dispatcher::UnqueueLocked(const Item& item) {
  lanes_[item.lane].queue[item.n.priority].erase({item.n.next_attempt_ms, item.seq});
}

void Dispatcher::EraseLocked(uint64_t seq) {
  const auto it = items_.find(seq);
  if (it == items_.end()) return;
  Lane& l = lanes_[it->second.lane];
  if (auto latest = l.latest_by_finding.find(it->second.n.finding_id);
      latest != l.latest_by_finding.end() && latest->second == seq) {
    l.latest_by_finding.erase(latest);
  }
  items_.erase(it);
}

void Dispatcher::ExpireLocked(int64_t now_ms) {
  std::vector<uint64_t> expired;
  for (const auto& [seq, item] : items_) {
    if (!item.in_flight && now_ms - item.n.created_ms >= config_.max_age_ms) expired.push_back(seq);
  }
  std::sort(expired.begin(), expired.end());
  for (uint64_t seq : expired) {
    Item& item = items_.at(seq);
    Lane& l = lanes_[item.lane];
    const int64_t age_s = (now_ms - item.n.created_ms) / 1000;
    Log(LogLevel::kWarn, "webhook notification dead-lettered: older than max_age",
        {{"receiver", l.config.name},
         {"reason", "max_age"},
         {"finding", item.n.finding_id},
         {"status", item.n.resolved ? "resolved" : "firing"},
         {"key", item.n.key},
         {"attempts", absl::StrCat(item.n.attempts)},
         {"age_s", absl::StrCat(age_s)}});
    if (absl::Status s =
            spool_.DeadLetter(item.n, absl::StrCat("max_age: undelivered after ", age_s, " s and ",
                                                   item.n.attempts, " attempts"));
        !s.ok()) {
      Log(LogLevel::kError, "webhook spool write failed", {{"error", s.ToString()}});
    }
    ++l.stats.dead_lettered;
    UnqueueLocked(item);
    EraseLocked(seq);
  }
}

std::vector<Dispatcher::Job> Dispatcher::TakeReadyLocked(int64_t now_ms) {
  ExpireLocked(now_ms);
  std::vector<Job> jobs;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Lane& l = lanes_[i];
    if (l.busy) continue;
    const std::pair<int64_t, uint64_t>* ready = nullptr;
    for (int p = 2; p >= 0 && ready == nullptr; --p) {
      if (!l.queue[p].empty() && l.queue[p].begin()->first <= now_ms) ready = &*l.queue[p].begin();
    }
    if (ready == nullptr) continue;
    if (!l.breaker.Allow(now_ms)) continue;
    Item& item = items_.at(ready->second);
    UnqueueLocked(item);  // invalidates `ready`
    item.in_flight = true;
    l.busy = true;
    Job job;
    job.lane = i;
    job.seq = item.seq;
    job.request.body = item.n.body;
    job.request.connect_timeout_ms = l.config.connect_timeout_ms;
    job.request.request_timeout_ms = l.config.request_timeout_ms;
    job.request.headers = {
        {"Content-Type", "application/json"},
        {"X-Smetsmon-Signature", SignatureHeader(l.config.secret, item.n.body)},
        {"X-Smetsmon-Timestamp", absl::StrCat(now_ms / 1000)},
        {"Idempotency-Key", item.n.key},
        {"X-Smetsmon-Attempt", absl::StrCat(item.n.attempts + 1)},
    };
    jobs.push_back(std::move(job));
  }
  return jobs;
}

void Dispatcher::StartJobs(std::vector<Job> jobs) {
  for (Job& job : jobs) {
    ++in_flight_;
    const size_t lane = job.lane;
    const uint64_t seq = job.seq;
    // Lane config, URL and TLS context are immutable after Create: read without the lock.
    AsyncPost(*io_, lanes_[lane].tls.get(), lanes_[lane].config.url, std::move(job.request),
              [this, lane, seq](HttpResult r) { OnResult(lane, seq, std::move(r)); });
  }
}

void Dispatcher::OnResult(size_t lane, uint64_t seq, HttpResult r) {
  --in_flight_;
  std::lock_guard lock(mu_);
  const int64_t now = clock_.Now().ms;
  Lane& l = lanes_[lane];
  l.busy = false;
  Item& item = items_.at(seq);
  item.in_flight = false;
  const bool ok = r.status >= 200 && r.status < 300;
  const bool retry = r.status == 0 || r.status >= 500 || r.status == 408 || r.status == 429;
  if (ok) {
    if (l.breaker.state() != CircuitState::kClosed) {
      Log(LogLevel::kInfo, "webhook receiver circuit closed", {{"receiver", l.config.name}});
    }
    l.breaker.OnSuccess();
    ++l.stats.delivered;
    if (absl::Status s = spool_.Remove(item.n); !s.ok()) {
      Log(LogLevel::kError, "webhook spool delete failed", {{"error", s.ToString()}});
    }
    EraseLocked(seq);
    return;
  }
  if (retry) {
    // Warn when the circuit opens, not each time a half-open trial fails (once per open_for
    // while a receiver stays down).
    const bool was_closed = l.breaker.state() == CircuitState::kClosed;
    if (l.breaker.OnFailure(now) && was_closed) {
      Log(LogLevel::kWarn, "webhook receiver circuit opened",
          {{"receiver", l.config.name},
           {"last_error", Describe(r)},
           {"open_for_ms", absl::StrCat(config_.circuit_breaker.open_for_ms)}});
    }
    if (item.superseded) {  // a newer state is queued: this one need not be retried
      if (absl::Status s = spool_.Remove(item.n); !s.ok()) {
        Log(LogLevel::kError, "webhook spool delete failed", {{"error", s.ToString()}});
      }
      EraseLocked(seq);
      return;
    }
    ++item.n.attempts;
    ++l.stats.retried;
    int64_t delay = BackoffDelayMs(config_.backoff, item.n.attempts, item.n.key);
    // Retry-After is honoured up to the longest backoff.
    if (r.retry_after_ms > delay) delay = std::min(r.retry_after_ms, config_.backoff.max_ms);
    item.n.next_attempt_ms = now + delay;
    if (absl::Status s = spool_.Save(item.n); !s.ok()) {
      Log(LogLevel::kError, "webhook spool write failed", {{"error", s.ToString()}});
    }
    QueueLocked(item);
    Log(LogLevel::kInfo, "webhook delivery failed, will retry",
        {{"receiver", l.config.name},
         {"error", Describe(r)},
         {"finding", item.n.finding_id},
         {"attempts", absl::StrCat(item.n.attempts)},
         {"retry_in_ms", absl::StrCat(delay)}});
    return;
  }
  // Any other answer (4xx, or a redirect we do not follow): the receiver refuses this request;
  // sending it again would not change that.
  l.breaker.OnSuccess();  // it answered: the receiver is up
  ++l.stats.rejected;
  Log(LogLevel::kWarn, "webhook notification rejected, dead-lettered",
      {{"receiver", l.config.name},
       {"reason", "rejected"},
       {"status", absl::StrCat(r.status)},
       {"finding", item.n.finding_id},
       {"key", item.n.key}});
  if (absl::Status s = spool_.DeadLetter(item.n, absl::StrCat("rejected with HTTP ", r.status));
      !s.ok()) {
    Log(LogLevel::kError, "webhook spool write failed", {{"error", s.ToString()}});
  }
  EraseLocked(seq);
}

size_t Dispatcher::Pump() {
  if (running_.load() || stopping_.load()) return 0;
  io_->restart();
  std::vector<Job> jobs;
  {
    std::lock_guard lock(mu_);
    jobs = TakeReadyLocked(clock_.Now().ms);
  }
  const size_t sent = jobs.size();
  StartJobs(std::move(jobs));
  while (in_flight_ > 0) io_->run_one();
  io_->poll();  // completions of cancelled timers, wake-ups
  return sent;
}

int64_t Dispatcher::NextWakeMsLocked(int64_t now_ms) const {
  int64_t next = now_ms + kMaxIdleWaitMs;
  for (const Lane& l : lanes_) {
    if (l.busy) continue;  // its completion wakes the loop
    if (l.breaker.state() == CircuitState::kOpen) {
      next = std::min(next, l.breaker.open_until_ms());
      continue;
    }
    for (const auto& q : l.queue) {
      if (!q.empty()) next = std::min(next, q.begin()->first);
    }
  }
  for (const auto& [seq, item] : items_) {
    if (!item.in_flight) next = std::min(next, item.n.created_ms + config_.max_age_ms);
  }
  return std::clamp(next - now_ms, kMinIdleWaitMs, kMaxIdleWaitMs);
}

void Dispatcher::RunLoop() {
  auto guard = asio::make_work_guard(*io_);
  while (!stopping_.load()) {
    const int64_t now = clock_.Now().ms;
    std::vector<Job> jobs;
    int64_t wait_ms = 0;
    {
      std::lock_guard lock(mu_);
      jobs = TakeReadyLocked(now);
      wait_ms = NextWakeMsLocked(now);
    }
    StartJobs(std::move(jobs));
    io_->run_one_for(std::chrono::milliseconds(wait_ms));
  }
}

void Dispatcher::Start() {
  if (running_.load() || stopping_.load()) return;
  io_->restart();
  running_.store(true);
  thread_ = std::thread([this] { RunLoop(); });
}

void Dispatcher::Stop() {
  stopping_.store(true);
  if (!running_.load()) return;
  asio::post(*io_, [] {});
  thread_.join();
  running_.store(false);
  io_->stop();  // requests in flight are abandoned: they stay in the spool
}

std::vector<ReceiverStats> Dispatcher::Stats() const {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.Now().ms;
  std::vector<ReceiverStats> out;
  out.reserve(lanes_.size());
  std::vector<int64_t> oldest(lanes_.size(), INT64_MAX);
  std::vector<size_t> depth(lanes_.size(), 0);
  for (const auto& [seq, item] : items_) {
    ++depth[item.lane];
    oldest[item.lane] = std::min(oldest[item.lane], item.n.created_ms);
  }
  for (size_t i = 0; i < lanes_.size(); ++i) {
    ReceiverStats s = lanes_[i].stats;
    s.queue_depth = depth[i];
    s.oldest_pending_age_seconds =
        depth[i] == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, now - oldest[i])) / 1000.0;
    s.circuit = lanes_[i].breaker.state();
    s.circuit_opened = lanes_[i].breaker.times_opened();
    out.push_back(std::move(s));
  }
  return out;
}

size_t Dispatcher::pending() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

}  // namespace smetsmon::webhook
