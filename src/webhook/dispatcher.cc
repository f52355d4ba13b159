#include "webhook/dispatcher.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "smetsmon/status.h"
#include "webhook/payload.h"

namespace smetsmon::webhook {
namespace {

namespace asio = boost::asio;

constexpr size_t kRecentlyResolvedCapacity = 4096;
constexpr char kToldMagic[] = "smetsmon-webhook-told 1";
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

namespace {

// Deletes the dead letters past `max_age_ms` (Spool::PruneDead); wall time, as the files' times.
void PruneDeadLetters(const Spool& spool, int64_t now_ms, int64_t max_age_ms) {
  absl::StatusOr<size_t> removed = spool.PruneDead(now_ms, max_age_ms);
  if (!removed.ok()) {
    Log(LogLevel::kWarn, "webhook dead letters not pruned",
        {{"error", std::string(removed.status().message())}});
  } else if (*removed > 0) {
    Log(LogLevel::kInfo, "webhook dead letters pruned",
        {{"dir", spool.dir()}, {"files", absl::StrCat(*removed)}});
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Create(WebhookConfig config,
                                                               const catalog::AreaTable& areas,
                                                               const Clock& clock) {
  SMETSMON_ASSIGN_OR_RETURN(Spool spool, Spool::Open(config.spool_dir));
  PruneDeadLetters(spool, clock.Now().ms, config.dead_max_age_ms);
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
  d->LoadTold();
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
  // A receiver can have two files of one finding after a crash between writing the newer and
  // deleting the older (or a request abandoned in flight after a newer state was queued): the
  // newest stands, resolved after every firing, a final tally after its resolved, then by n (not
  // by time: a clock can step back).
  // The others are deleted, counted as superseded. Files of receivers no longer configured are
  // all dead-lettered below.
  const auto older = [](const Notification& a, const Notification& b) {
    return std::tie(a.resolved, a.final_tally, a.firing_number, a.created_ms, a.key) <
           std::tie(b.resolved, b.final_tally, b.firing_number, b.created_ms, b.key);
  };
  std::map<std::pair<std::string, std::string>, const Notification*> newest;
  for (const Notification& n : loaded.pending) {
    const Notification*& best = newest[{n.receiver, n.finding_id}];
    if (best == nullptr || older(*best, n)) best = &n;
  }
  std::vector<Notification> current;
  current.reserve(loaded.pending.size());
  for (Notification& n : loaded.pending) {
    const auto lane = std::find_if(lanes_.begin(), lanes_.end(),
                                   [&](const Lane& l) { return l.config.name == n.receiver; });
    if (lane == lanes_.end() || newest.at({n.receiver, n.finding_id}) == &n) {
      current.push_back(std::move(n));
      continue;
    }
    if (absl::Status s = spool_.Remove(n); !s.ok()) {
      Log(LogLevel::kError, "webhook spool delete failed", {{"error", s.ToString()}});
    }
    ++lane->stats.superseded;
  }
  // Queued in the order they were created.
  std::sort(current.begin(), current.end(), [](const Notification& a, const Notification& b) {
    return std::tie(a.created_ms, a.key) < std::tie(b.created_ms, b.key);
  });
  const int64_t wall_now = clock_.Now().ms;
  const int64_t mono_now = MonoMs();
  std::unique_lock lock(mu_);
  size_t restored = 0;
  bool told_changed = false;
  for (Notification& n : current) {
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
    const size_t lane_index = static_cast<size_t>(lane - lanes_.begin());
    // A pending notification was queued after told.state was last written if a crash came in
    // between: it says what the receiver is being told.
    if (ApplyReloadedLocked(n, lane_index)) told_changed = true;
    // No monotonic origin survives a restart: the wall clock says how old it is, within bounds
    // (see dispatcher.h), so no clock step dead-letters it at once or keeps it waiting forever.
    const int64_t max_credit =
        std::max<int64_t>(0, config_.max_age_ms - std::min(kReloadGraceMs, config_.max_age_ms));
    const int64_t age = std::clamp<int64_t>(wall_now - n.created_ms, 0, max_credit);
    const int64_t wait = std::clamp<int64_t>(n.next_attempt_ms - wall_now, 0,
                                             std::max<int64_t>(1, config_.backoff.max_ms));
    const size_t bytes = EncodedSize(n);
    AddLocked(std::move(n), lane_index, mono_now - age, mono_now + wait, bytes);
    ++restored;
  }
  if (restored > 0) {
    Log(LogLevel::kInfo, "webhook notifications reloaded from spool",
        {{"dir", spool_.dir()},
         {"count", absl::StrCat(items_.size())},
         {"bytes", absl::StrCat(spool_bytes_)}});
  }
  if (spool_bytes_ > static_cast<uint64_t>(config_.spool_max_bytes) ||
      items_.size() > static_cast<uint64_t>(config_.spool_max_files)) {
    Log(LogLevel::kWarn, "webhook spool over its caps: evicting at the next notification",
        {{"dir", spool_.dir()},
         {"files", absl::StrCat(items_.size())},
         {"bytes", absl::StrCat(spool_bytes_)},
         {"spool_max_files", absl::StrCat(config_.spool_max_files)},
         {"spool_max_bytes", absl::StrCat(config_.spool_max_bytes)}});
  }
  if (told_changed) {
    const uint64_t version = ++told_version_;
    const std::vector<StateLine> told = EncodeToldLocked();
    lock.unlock();
    // Logged by WriteTold; the next change writes it again.
    (void)WriteTold(version, told);
  }
  return absl::OkStatus();
}

bool Dispatcher::ApplyReloadedLocked(const Notification& n, size_t lane) {
  if (n.resolved) {
    bool changed = false;
    if (recently_resolved_.count(n.finding_id) == 0) {
      MarkResolvedLocked(n.finding_id);
      changed = true;
    }
    auto awaiting = awaiting_final_.find(n.finding_id);
    if (n.final_tally && awaiting != awaiting_final_.end() && awaiting->second.lanes[lane]) {
      // The final tally is spooled for this receiver: it is owed nothing more.
      awaiting->second.lanes[lane] = false;
      if (std::none_of(awaiting->second.lanes.begin(), awaiting->second.lanes.end(),
                       [](bool b) { return b; })) {
        awaiting_final_.erase(awaiting);
      }
      changed = true;
    } else if (n.counting && (awaiting == awaiting_final_.end() || !awaiting->second.lanes[lane])) {
      // Resolved while counting, and no final tally spooled after it (that one would have
      // replaced this file): the receiver is owed it.
      AwaitFinalLocked(n.finding_id, lane);
      changed = true;
    }
    return changed;
  }
  if (recently_resolved_.count(n.finding_id) != 0) return false;
  // A file written before notifications were numbered (0) is at least the first firing.
  const uint32_t number = std::max<uint32_t>(n.firing_number, 1);
  const auto severity = static_cast<rules::Severity>(n.priority);
  auto it = firing_.find(n.finding_id);
  if (it == firing_.end()) {
    it = firing_.emplace(n.finding_id, Tracked{severity, std::vector<uint32_t>(lanes_.size())})
             .first;
  } else if (it->second.told[lane] >= number) {
    return false;  // told.state knows it already
  }
  // Spooled after told.state was last written: it is the latest news of the finding.
  it->second.told[lane] = number;
  it->second.severity = severity;
  return true;
}

void Dispatcher::MarkResolvedLocked(const std::string& id) {
  firing_.erase(id);
  if (!recently_resolved_.insert(id).second) return;
  recently_resolved_order_.push_back(id);
  while (recently_resolved_order_.size() > kRecentlyResolvedCapacity) {
    recently_resolved_.erase(recently_resolved_order_.front());
    recently_resolved_order_.pop_front();
  }
}

void Dispatcher::AwaitFinalLocked(const std::string& id, size_t lane) {
  auto [it, inserted] = awaiting_final_.try_emplace(id);
  if (inserted) {
    it->second.seq = next_awaiting_seq_++;
    it->second.lanes.assign(lanes_.size(), false);
  }
  it->second.lanes[lane] = true;
  if (awaiting_final_.size() <= kRecentlyResolvedCapacity) return;
  auto oldest = awaiting_final_.begin();
  for (auto a = awaiting_final_.begin(); a != awaiting_final_.end(); ++a) {
    if (a->second.seq < oldest->second.seq) oldest = a;
  }
  awaiting_final_.erase(oldest);
}

// told.state lines: `firing: <severity> <receiver>=<n>,...|- <finding id>` (n: that receiver's
// last firing notification of the finding; the id last: it may hold spaces),
// `resolved: <finding id>`, oldest first, and `awaiting_final: <receiver>,... <finding id>` (the
// receivers owed the final tally of a finding resolved while counting), oldest first.
std::vector<StateLine> Dispatcher::EncodeToldLocked() const {
  std::vector<StateLine> lines;
  lines.reserve(firing_.size() + recently_resolved_order_.size());
  for (const auto& [id, t] : firing_) {
    std::vector<std::string> told;
    for (size_t i = 0; i < lanes_.size(); ++i) {
      if (t.told[i] > 0) told.push_back(absl::StrCat(lanes_[i].config.name, "=", t.told[i]));
    }
    lines.emplace_back("firing",
                       absl::StrCat(rules::SeverityName(t.severity), " ",
                                    told.empty() ? "-" : absl::StrJoin(told, ","), " ", id));
  }
  for (const std::string& id : recently_resolved_order_) lines.emplace_back("resolved", id);
  std::vector<std::pair<uint64_t, std::string>> awaiting;
  for (const auto& [id, a] : awaiting_final_) {
    std::vector<std::string> names;
    for (size_t i = 0; i < lanes_.size(); ++i) {
      if (a.lanes[i]) names.push_back(lanes_[i].config.name);
    }
    awaiting.emplace_back(a.seq, absl::StrCat(absl::StrJoin(names, ","), " ", id));
  }
  std::sort(awaiting.begin(), awaiting.end());
  for (auto& [seq, line] : awaiting) lines.emplace_back("awaiting_final", std::move(line));
  return lines;
}

void Dispatcher::LoadTold() {
  const std::string path = absl::StrCat(spool_.dir(), "/", kToldStateFile);
  absl::StatusOr<std::vector<StateLine>> lines = ReadStateFile(path, kToldMagic);
  if (absl::IsNotFound(lines.status())) return;  // first start
  std::map<std::string, Tracked> firing;
  std::deque<std::string> resolved;
  std::vector<std::pair<std::string, std::vector<size_t>>> awaiting;  // oldest first
  size_t unknown_receivers = 0;
  absl::Status bad = lines.status();
  const auto lane_named = [&](absl::string_view name) {
    return std::find_if(lanes_.begin(), lanes_.end(),
                        [&](const Lane& l) { return l.config.name == name; });
  };
  for (size_t i = 0; bad.ok() && i < lines->size(); ++i) {
    const auto& [key, value] = (*lines)[i];
    if (key == "resolved" && !value.empty()) {
      resolved.push_back(value);
      continue;
    }
    if (key == "awaiting_final") {
      const std::vector<absl::string_view> parts = absl::StrSplit(value, absl::MaxSplits(' ', 1));
      if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
        bad = absl::DataLossError(absl::StrCat("line ", i + 2, ": bad 'awaiting_final' line"));
        break;
      }
      std::vector<size_t> owed;
      for (absl::string_view name : absl::StrSplit(parts[0], ',')) {
        const auto lane = lane_named(name);
        if (lane == lanes_.end()) {
          ++unknown_receivers;
          continue;
        }
        owed.push_back(static_cast<size_t>(lane - lanes_.begin()));
      }
      if (!owed.empty()) awaiting.emplace_back(std::string(parts[1]), std::move(owed));
      continue;
    }
    const std::vector<absl::string_view> parts = absl::StrSplit(value, absl::MaxSplits(' ', 2));
    Tracked t;
    if (key != "firing" || parts.size() != 3 || parts[2].empty() ||
        !ParseSeverity(std::string_view(parts[0].data(), parts[0].size()), &t.severity)) {
      bad = absl::DataLossError(absl::StrCat("line ", i + 2, ": bad '", key, "' line"));
      break;
    }
    t.told.assign(lanes_.size(), 0);
    if (parts[1] != "-") {
      for (absl::string_view entry : absl::StrSplit(parts[1], ',')) {
        // `<receiver>=<n>`: the last '=' (a receiver's name is free text).
        const size_t eq = entry.rfind('=');
        uint32_t number = 0;
        if (eq == absl::string_view::npos || eq == 0 ||
            !absl::SimpleAtoi(entry.substr(eq + 1), &number) || number == 0) {
          bad = absl::DataLossError(absl::StrCat("line ", i + 2, ": bad receiver '", entry, "'"));
          break;
        }
        const absl::string_view name = entry.substr(0, eq);
        const auto lane = std::find_if(lanes_.begin(), lanes_.end(),
                                       [&](const Lane& l) { return l.config.name == name; });
        if (lane == lanes_.end()) {
          ++unknown_receivers;  // no longer configured: nothing more to tell it
          continue;
        }
        t.told[static_cast<size_t>(lane - lanes_.begin())] = number;
      }
    }
    if (!bad.ok()) break;
    firing[std::string(parts[2])] = std::move(t);
  }
  if (!bad.ok()) {
    absl::StatusOr<std::string> aside = SetAsideStateFile(path);
    Log(LogLevel::kWarn,
        "webhook told state unreadable, set aside: starting as if no receiver had been told",
        {{"file", path},
         {"error", std::string(bad.message())},
         {"moved_to", aside.ok() ? *aside : aside.status().ToString()}});
    return;
  }
  std::lock_guard lock(mu_);
  firing_ = std::move(firing);
  for (const std::string& id : resolved) MarkResolvedLocked(id);
  for (const auto& [id, owed] : awaiting) {
    for (size_t lane : owed) AwaitFinalLocked(id, lane);
  }
  Log(LogLevel::kInfo, "webhook told state loaded",
      {{"file", path},
       {"firing", absl::StrCat(firing_.size())},
       {"resolved", absl::StrCat(recently_resolved_.size())},
       {"unknown_receivers", absl::StrCat(unknown_receivers)}});
}

absl::Status Dispatcher::WriteTold(uint64_t version, const std::vector<StateLine>& lines) {
  std::lock_guard lock(told_write_mu_);
  if (version <= told_written_version_.load()) return absl::OkStatus();  // a newer one is out
  const std::string path = absl::StrCat(spool_.dir(), "/", kToldStateFile);
  absl::Status s = WriteStateFile(path, kToldMagic, lines);
  if (!s.ok()) {
    if (!told_write_failing_) {
      Log(LogLevel::kError, "webhook told state write failed: a restart may repeat notifications",
          {{"file", path}, {"error", s.ToString()}});
    }
    told_write_failing_ = true;
    return s;
  }
  if (told_write_failing_) {
    Log(LogLevel::kInfo, "webhook told state written again", {{"file", path}});
  }
  told_write_failing_ = false;
  told_written_version_.store(version);
  return absl::OkStatus();
}

namespace {

// What the notification is and where it stands in the finding's history, nothing else (no
// clock): a replay of the same events from the same told state derives the same key.
std::string KeyOf(const std::string& receiver, const std::string& finding_id, const char* status,
                  rules::Severity severity, uint32_t n) {
  return Sha256Hex(absl::StrCat(receiver, "\n", finding_id, "\n", status, "\n",
                                rules::SeverityName(severity), "\n", n))
      .substr(0, 32);
}

}  // namespace

std::string IdempotencyKey(const std::string& receiver, const std::string& finding_id,
                           bool resolved, rules::Severity severity, uint32_t n) {
  return KeyOf(receiver, finding_id, resolved ? "resolved" : "firing", severity, n);
}

std::string FinalTallyKey(const std::string& receiver, const std::string& finding_id,
                          rules::Severity severity) {
  return KeyOf(receiver, finding_id, "final", severity, 0);
}

bool Dispatcher::KeepPendingLocked(const std::string& key) {
  const auto found = by_key_.find(key);
  if (found == by_key_.end()) return false;
  Item& same = items_.at(found->second);
  if (same.superseded) {
    // In flight while a newer state was queued, and the finding is back to this state: the newer
    // one is out of date, this one is current again (and is retried if this attempt fails).
    Lane& l = lanes_[same.lane];
    if (auto latest = l.latest_by_finding.find(same.n.finding_id);
        latest != l.latest_by_finding.end() && latest->second != same.seq) {
      const uint64_t newer_seq = latest->second;
      Item& newer = items_.at(newer_seq);  // not in flight: the lane's one request is `same`
      ++l.stats.superseded;
      UnqueueLocked(newer);
      if (absl::Status s = spool_.Remove(newer.n); !s.ok()) {
        Log(LogLevel::kError, "webhook spool delete failed", {{"error", s.ToString()}});
      }
      EraseLocked(newer_seq);
    }
    same.superseded = false;
    l.latest_by_finding[same.n.finding_id] = same.seq;
  }
  return true;
}

absl::StatusOr<size_t> Dispatcher::Enqueue(const rules::Finding& f, bool resolved) {
  const int64_t now = clock_.Now().ms;  // shown and stored only
  const int64_t mono_now = MonoMs();
  absl::Status first_error;
  size_t spooled = 0;
  uint64_t told_version = 0;
  std::vector<StateLine> told;
  {
    std::lock_guard lock(mu_);
    std::vector<std::pair<size_t, uint32_t>> targets;  // (lane, n of the key)
    bool changed = false;
    const bool counting = resolved && f.tally == rules::Tally::kCounting;
    bool final_tally = false;  // the targets get the finding's final-tally update
    if (!resolved) {
      auto it = firing_.find(f.id);
      if (recently_resolved_.count(f.id) != 0) {
        // One id, one episode: it resolved, and the receivers were told. Firing again can only
        // be a restored evaluator catching up on events it had seen; paging again would be wrong.
        ++refires_ignored_;
        for (Lane& l : lanes_) {
          if (Matches(l.config, f, areas_)) ++l.stats.refires_ignored;
        }
      } else if (it == firing_.end() || it->second.severity != f.severity) {
        changed = true;
        if (it == firing_.end()) {
          it = firing_.emplace(f.id, Tracked{f.severity, std::vector<uint32_t>(lanes_.size())})
                   .first;
        }
        Tracked& t = it->second;
        t.severity = f.severity;
        for (size_t i = 0; i < lanes_.size(); ++i) {
          // A receiver already told it is firing hears about the new severity even if it would
          // no longer match its min_severity: otherwise it would keep the old one forever.
          if (t.told[i] > 0 || Matches(lanes_[i].config, f, areas_)) {
            targets.emplace_back(i, ++t.told[i]);
          }
        }
      } else {
        // Unchanged. A receiver configured since told.state was written has been told nothing:
        // it hears of the finding now. (Within one run this never happens: whether a receiver
        // matches a finding changes only with its severity.)
        Tracked& t = it->second;
        for (size_t i = 0; i < lanes_.size(); ++i) {
          if (t.told[i] == 0 && Matches(lanes_[i].config, f, areas_)) {
            targets.emplace_back(i, ++t.told[i]);
            changed = true;
          }
        }
      }
    } else if (const auto awaiting = awaiting_final_.find(f.id);
               awaiting != awaiting_final_.end()) {
      // Told resolved while its figures were counting: once final, they get them, once.
      if (!counting) {
        changed = true;
        final_tally = true;
        for (size_t i = 0; i < lanes_.size(); ++i) {
          if (awaiting->second.lanes[i]) targets.emplace_back(i, 0);
        }
        awaiting_final_.erase(awaiting);
      }
    } else if (recently_resolved_.count(f.id) == 0) {
      changed = true;
      const auto it = firing_.find(f.id);
      for (size_t i = 0; i < lanes_.size(); ++i) {
        if (!lanes_[i].config.send_resolved) continue;
        const bool was_told =
            it != firing_.end() ? it->second.told[i] > 0 : Matches(lanes_[i].config, f, areas_);
        if (!was_told) continue;
        targets.emplace_back(i, 0);  // n = 0: a finding resolves once
        if (counting) AwaitFinalLocked(f.id, i);
      }
      MarkResolvedLocked(f.id);
    }
    for (const auto& [lane, number] : targets) {
      const ReceiverConfig& rc = lanes_[lane].config;
      std::string key = final_tally ? FinalTallyKey(rc.name, f.id, f.severity)
                                    : IdempotencyKey(rc.name, f.id, resolved, f.severity, number);
      if (KeepPendingLocked(key)) continue;
      Notification n;
      n.receiver = rc.name;
      n.finding_id = f.id;
      n.resolved = resolved;
      n.counting = counting && !final_tally;
      n.final_tally = final_tally;
      n.firing_number = number;
      n.priority = PriorityOf(f.severity);
      n.created_ms = now;
      n.next_attempt_ms = now;
      n.key = std::move(key);
      n.body = BuildAlertmanagerPayload(f, resolved, rc.name, config_.external_url, areas_,
                                        ProcessingTime{now}, final_tally);
      const size_t bytes = EncodedSize(n);
      if (!MakeRoomLocked(n, lane, bytes)) {
        // Dead-lettered: the older state of the finding it replaces is out of date all the same.
        SupersedeLocked(lane, n.finding_id);
        continue;
      }
      if (absl::Status s = spool_.Save(n); !s.ok()) {
        Log(LogLevel::kError,
            "webhook spool write failed: notification queued in memory, written again at each "
            "failed attempt",
            {{"receiver", rc.name}, {"finding", f.id}, {"error", s.ToString()}});
        ++lanes_[lane].stats.spool_write_errors;
        if (first_error.ok()) first_error = s;
      }
      AddLocked(std::move(n), lane, mono_now, mono_now, bytes);
      ++spooled;
    }
    if (changed) ++told_version_;
    // Also when an earlier write failed and nothing changed since: retried on every call.
    if (told_version_ > told_written_version_.load()) {
      told_version = told_version_;
      told = EncodeToldLocked();
    }
  }
  // After the spool files: a crash in between leaves notifications the next start recognises.
  if (told_version != 0) {
    if (absl::Status s = WriteTold(told_version, told); !s.ok() && first_error.ok()) {
      first_error = s;
    }
  }
  if (spooled > 0 && running_.load()) asio::post(*io_, [] {});  // wake the delivery thread
  if (!first_error.ok()) return first_error;
  return spooled;
}

void Dispatcher::SupersedeLocked(size_t lane, const std::string& finding_id) {
  Lane& l = lanes_[lane];
  const auto prev = l.latest_by_finding.find(finding_id);
  if (prev == l.latest_by_finding.end()) return;
  Item& old = items_.at(prev->second);
  ++l.stats.superseded;
  if (old.in_flight) {
    old.superseded = true;  // OnResult drops it instead of retrying
    l.latest_by_finding.erase(prev);
  } else {
    UnqueueLocked(old);
    if (absl::Status s = spool_.Remove(old.n); !s.ok()) {
      Log(LogLevel::kError, "webhook spool delete failed", {{"error", s.ToString()}});
    }
    EraseLocked(old.seq);
  }
}

void Dispatcher::AddLocked(Notification n, size_t lane, int64_t born_mono_ms, int64_t next_mono_ms,
                           size_t file_bytes) {
  SupersedeLocked(lane, n.finding_id);
  Lane& l = lanes_[lane];
  Item item;
  item.seq = next_seq_++;
  item.lane = lane;
  item.born_mono_ms = born_mono_ms;
  item.next_mono_ms = next_mono_ms;
  item.file_bytes = file_bytes;
  item.n = std::move(n);
  l.latest_by_finding[item.n.finding_id] = item.seq;
  by_key_[item.n.key] = item.seq;
  eviction_order_.emplace(item.n.priority, item.n.created_ms, item.seq);
  spool_bytes_ += file_bytes;
  QueueLocked(item);
  const uint64_t seq = item.seq;
  items_.emplace(seq, std::move(item));
}

void Dispatcher::QueueLocked(const Item& item) {
  lanes_[item.lane].queue[item.n.priority].emplace(item.next_mono_ms, item.seq);
}

void Dispatcher::UnqueueLocked(const Item& item) {
  lanes_[item.lane].queue[item.n.priority].erase({item.next_mono_ms, item.seq});
}

void Dispatcher::EraseLocked(uint64_t seq) {
  const auto it = items_.find(seq);
  if (it == items_.end()) return;
  Lane& l = lanes_[it->second.lane];
  if (auto latest = l.latest_by_finding.find(it->second.n.finding_id);
      latest != l.latest_by_finding.end() && latest->second == seq) {
    l.latest_by_finding.erase(latest);
  }
  if (auto key = by_key_.find(it->second.n.key); key != by_key_.end() && key->second == seq) {
    by_key_.erase(key);
  }
  eviction_order_.erase({it->second.n.priority, it->second.n.created_ms, seq});
  spool_bytes_ -= it->second.file_bytes;
  items_.erase(it);
}

void Dispatcher::DeadLetterEvictedLocked(const Notification& n, size_t lane,
                                         const std::string& reason) {
  Lane& l = lanes_[lane];
  Log(LogLevel::kWarn, "webhook notification dead-lettered: spool over its cap",
      {{"receiver", l.config.name},
       {"reason", reason},
       {"finding", n.finding_id},
       {"status", n.resolved ? "resolved" : "firing"},
       {"priority", absl::StrCat(n.priority)},
       {"key", n.key}});
  if (absl::Status s = spool_.DeadLetter(n, reason); !s.ok()) {
    Log(LogLevel::kError, "webhook spool write failed", {{"error", s.ToString()}});
  }
  ++l.stats.spool_evicted;
}

bool Dispatcher::MakeRoomLocked(const Notification& n, size_t lane, size_t file_bytes) {
  const uint64_t max_bytes = static_cast<uint64_t>(config_.spool_max_bytes);
  const uint64_t max_files = static_cast<uint64_t>(config_.spool_max_files);
  // The pending notification `n` supersedes goes when `n` is added: its room is free, and it is
  // not evicted (unless in flight: then its file stays until its request completes).
  uint64_t spared = 0;
  uint64_t bytes = spool_bytes_ + file_bytes;
  uint64_t files = items_.size() + 1;
  const Lane& l = lanes_[lane];
  if (const auto prev = l.latest_by_finding.find(n.finding_id); prev != l.latest_by_finding.end()) {
    const Item& old = items_.at(prev->second);
    if (!old.in_flight) {
      spared = old.seq;
      bytes -= old.file_bytes;
      --files;
    }
  }
  const auto which_cap = [&] {
    return bytes > max_bytes ? absl::StrCat("spool over its byte cap (", max_bytes, " bytes)")
                             : absl::StrCat("spool over its file cap (", max_files, " files)");
  };
  if (bytes <= max_bytes && files <= max_files) return true;
  if (file_bytes > max_bytes) {
    DeadLetterEvictedLocked(
        n, lane,
        absl::StrCat("evicted: ", file_bytes, " bytes, larger than the spool's byte cap (",
                     max_bytes, " bytes)"));
    return false;
  }
  // Choose first, evict after: if room cannot be made from notifications ranked below `n`,
  // nothing is evicted and `n` goes to dead/.
  std::vector<std::pair<uint64_t, std::string>> victims;  // (seq, reason)
  auto it = eviction_order_.begin();
  while (bytes > max_bytes || files > max_files) {
    while (it != eviction_order_.end() &&
           (std::get<2>(*it) == spared || items_.at(std::get<2>(*it)).in_flight)) {
      ++it;
    }
    const auto& [priority, created_ms, seq] =
        it != eviction_order_.end() ? *it : std::tuple<int, int64_t, uint64_t>{3, 0, 0};
    if (std::tie(n.priority, n.created_ms) < std::tie(priority, created_ms)) {
      // Everything evictable outranks `n` (or nothing is evictable).
      DeadLetterEvictedLocked(
          n, lane,
          absl::StrCat("evicted: ", which_cap(), "; every pending notification outranks it"));
      return false;
    }
    victims.emplace_back(seq, absl::StrCat("evicted: ", which_cap()));
    bytes -= items_.at(seq).file_bytes;
    --files;
    ++it;
  }
  for (const auto& [seq, reason] : victims) {
    Item& victim = items_.at(seq);
    DeadLetterEvictedLocked(victim.n, victim.lane, reason);
    UnqueueLocked(victim);
    EraseLocked(seq);
  }
  return true;
}

void Dispatcher::ExpireLocked(int64_t mono_ms) {
  std::vector<uint64_t> expired;
  for (const auto& [seq, item] : items_) {
    if (!item.in_flight && mono_ms - item.born_mono_ms >= config_.max_age_ms) {
      expired.push_back(seq);
    }
  }
  std::sort(expired.begin(), expired.end());
  for (uint64_t seq : expired) {
    Item& item = items_.at(seq);
    Lane& l = lanes_[item.lane];
    const int64_t age_s = (mono_ms - item.born_mono_ms) / 1000;
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

std::vector<Dispatcher::Job> Dispatcher::TakeReadyLocked(int64_t wall_ms, int64_t mono_ms) {
  ExpireLocked(mono_ms);
  std::vector<Job> jobs;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Lane& l = lanes_[i];
    if (l.busy) continue;
    const std::pair<int64_t, uint64_t>* ready = nullptr;
    for (int p = 2; p >= 0 && ready == nullptr; --p) {
      if (!l.queue[p].empty() && l.queue[p].begin()->first <= mono_ms) {
        ready = &*l.queue[p].begin();
      }
    }
    if (ready == nullptr) continue;
    if (!l.breaker.Allow(mono_ms)) continue;
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
        {"X-Smetsmon-Timestamp", absl::StrCat(wall_ms / 1000)},
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
  const int64_t now = clock_.Now().ms;  // stored only
  const int64_t mono_now = MonoMs();
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
    if (l.breaker.OnFailure(mono_now) && was_closed) {
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
    item.next_mono_ms = mono_now + delay;
    item.n.next_attempt_ms = now + delay;
    // A few bytes longer perhaps (attempts, times): counted, not checked against the caps.
    const size_t bytes = EncodedSize(item.n);
    spool_bytes_ = spool_bytes_ - item.file_bytes + bytes;
    item.file_bytes = bytes;
    if (absl::Status s = spool_.Save(item.n); !s.ok()) {
      Log(LogLevel::kError, "webhook spool write failed", {{"error", s.ToString()}});
      ++l.stats.spool_write_errors;
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
    jobs = TakeReadyLocked(clock_.Now().ms, MonoMs());
  }
  const size_t sent = jobs.size();
  StartJobs(std::move(jobs));
  while (in_flight_ > 0) io_->run_one();
  io_->poll();  // completions of cancelled timers, wake-ups
  return sent;
}

int64_t Dispatcher::NextWakeMsLocked(int64_t mono_ms) const {
  int64_t next = mono_ms + kMaxIdleWaitMs;
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
    if (!item.in_flight) next = std::min(next, item.born_mono_ms + config_.max_age_ms);
  }
  return std::clamp(next - mono_ms, kMinIdleWaitMs, kMaxIdleWaitMs);
}

void Dispatcher::RunLoop() {
  auto guard = asio::make_work_guard(*io_);
  int64_t pruned_mono = MonoMs();  // Create pruned dead/ at start; then hourly
  while (!stopping_.load()) {
    const int64_t wall = clock_.Now().ms;
    const int64_t mono = MonoMs();
    if (mono - pruned_mono >= kMsPerHour) {
      pruned_mono = mono;
      PruneDeadLetters(spool_, wall, config_.dead_max_age_ms);
    }
    std::vector<Job> jobs;
    int64_t wait_ms = 0;
    {
      std::lock_guard lock(mu_);
      jobs = TakeReadyLocked(wall, mono);
      wait_ms = NextWakeMsLocked(mono);
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
  const int64_t now = MonoMs();
  std::vector<ReceiverStats> out;
  out.reserve(lanes_.size());
  std::vector<int64_t> oldest(lanes_.size(), INT64_MAX);
  std::vector<size_t> depth(lanes_.size(), 0);
  for (const auto& [seq, item] : items_) {
    ++depth[item.lane];
    oldest[item.lane] = std::min(oldest[item.lane], item.born_mono_ms);
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

SpoolUsage Dispatcher::spool_usage() const {
  std::lock_guard lock(mu_);
  return SpoolUsage{spool_bytes_, items_.size()};
}

uint64_t Dispatcher::refires_ignored() const {
  std::lock_guard lock(mu_);
  return refires_ignored_;
}

}  // namespace smetsmon::webhook
