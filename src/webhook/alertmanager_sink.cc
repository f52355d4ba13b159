#include "webhook/alertmanager_sink.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "webhook/http_client.h"
#include "webhook/payload.h"
#include "webhook/state_file.h"

namespace smetsmon::webhook {
namespace {

// Resolved notices kept while Alertmanager is unreachable; past this the oldest are dropped (their
// firing alerts then expire on their own endsAt).
constexpr size_t kMaxPendingResolved = 1000;
// A firing alert's endsAt is this many resend intervals ahead, as Prometheus does.
constexpr int64_t kEndsAtIntervals = 4;
// Resolved ids remembered so that they are never sent as firing again (more than the evaluator's
// closed history).
constexpr size_t kResolvedIdsCapacity = 4096;
// How long a finding restored as told firing waits for the evaluator to list it open or closed.
constexpr int64_t kHoldRestoredMs = 24 * kMsPerHour;

constexpr char kStateMagic[] = "smetsmon-alertmanager-sink 1";

const rules::Finding* FindById(const std::vector<rules::Finding>& findings, const std::string& id) {
  const auto it = std::find_if(findings.begin(), findings.end(),
                               [&](const rules::Finding& f) { return f.id == id; });
  return it == findings.end() ? nullptr : &*it;
}

// A finding in the state file: `<record>: <id>` then its fields, one per line. The area goes by
// name (area ids are positions in areas.yaml, which may change between runs).
void EncodeFinding(const char* record, const rules::Finding& f, const catalog::AreaTable& areas,
                   std::vector<StateLine>* out) {
  out->emplace_back(record, f.id);
  out->emplace_back("kind", rules::FindingKindName(f.kind));
  out->emplace_back("severity", rules::SeverityName(f.severity));
  if (f.area != kUnknownArea && f.area.value < areas.size()) {
    out->emplace_back("area", areas.area(f.area).name);
  }
  out->emplace_back("region", f.region);
  out->emplace_back("scope", f.scope);
  out->emplace_back("start_ms", absl::StrCat(f.start.ms));
  if (f.end) out->emplace_back("end_ms", absl::StrCat(f.end->ms));
  out->emplace_back("explanation", f.explanation);
  for (const auto& [name, value] : f.figures) {
    out->emplace_back("figure", absl::StrCat(absl::StrFormat("%.17g", value), " ", name));
  }
}

bool ParseMs(const std::string& v, int64_t* out) {
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && end == v.data() + v.size();
}

// Sets the field `key` of `f`; false when the key is unknown or the value bad.
bool DecodeField(const std::string& key, const std::string& v, const catalog::AreaTable& areas,
                 rules::Finding* f) {
  if (key == "kind") {
    for (int k = 0; k < rules::kFindingKindCount; ++k) {
      if (v == rules::FindingKindName(static_cast<rules::FindingKind>(k))) {
        f->kind = static_cast<rules::FindingKind>(k);
        return true;
      }
    }
    return false;
  }
  if (key == "severity") return ParseSeverity(v, &f->severity);
  if (key == "area") {
    // An area no longer in areas.yaml: the alert goes without its area labels.
    for (size_t i = 0; i < areas.size(); ++i) {
      if (areas.areas()[i].name == v) f->area = AreaId{static_cast<uint8_t>(i)};
    }
    return true;
  }
  if (key == "region") {
    f->region = v;
    return true;
  }
  if (key == "scope") {
    f->scope = v;
    return true;
  }
  if (key == "start_ms") return ParseMs(v, &f->start.ms);
  if (key == "end_ms") {
    int64_t end = 0;
    if (!ParseMs(v, &end)) return false;
    f->end = EventTime{end};
    return true;
  }
  if (key == "explanation") {
    f->explanation = v;
    return true;
  }
  if (key == "figure") {
    const size_t space = v.find(' ');
    double value = 0;
    if (space == std::string::npos || !absl::SimpleAtod(v.substr(0, space), &value)) return false;
    f->figures[v.substr(space + 1)] = value;
    return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AlertmanagerSink>> AlertmanagerSink::Create(
    const AlertmanagerConfig& config, std::string external_url, const catalog::AreaTable& areas,
    boost::asio::io_context& io) {
  std::unique_ptr<AlertmanagerSink> sink(
      new AlertmanagerSink(config, std::move(external_url), areas, io));
  if (config.url.tls) {
    auto tls = MakeClientTlsContext(config.tls);
    if (!tls.ok()) return tls.status();
    sink->tls_ = std::move(*tls);
  }
  if (!config.state_file.empty()) {
    const std::filesystem::path dir = std::filesystem::path(config.state_file).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("alertmanager state_file ", config.state_file,
                                                 ": cannot create its directory: ", ec.message()));
    }
    sink->LoadState();
  }
  return sink;
}

AlertmanagerSink::AlertmanagerSink(const AlertmanagerConfig& config, std::string external_url,
                                   const catalog::AreaTable& areas, boost::asio::io_context& io)
    : config_([&] {
        AlertmanagerConfig c = config;
        std::string& target = c.url.target;
        const size_t query = target.find('?');
        if (query != std::string::npos) target.erase(query);
        while (!target.empty() && target.back() == '/') target.pop_back();
        target += "/api/v2/alerts";
        return c;
      }()),
      external_url_(std::move(external_url)),
      areas_(areas),
      io_(io) {}

AlertmanagerSink::~AlertmanagerSink() = default;

bool AlertmanagerSink::Update(const std::vector<rules::Finding>& open,
                              const std::vector<rules::Finding>& closed, ProcessingTime now,
                              int64_t mono_ms) {
  if (hold_until_ms_ < 0) hold_until_ms_ = mono_ms + kHoldRestoredMs;
  // What is firing: the open findings but those resolved already (one id, one episode).
  std::vector<const rules::Finding*> firing;
  std::set<std::string> open_ids;
  firing.reserve(open.size());
  for (const rules::Finding& f : open) {
    if (resolved_ids_.count(f.id) != 0) {
      refires_ignored_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    firing.push_back(&f);
    open_ids.insert(f.id);
  }
  // What Alertmanager believes is firing but no longer is: resolved. The closed copy carries the
  // end time; a finding gone without one (a reload dropped it) ends now.
  for (auto it = told_firing_.begin(); it != told_firing_.end();) {
    if (open_ids.count(it->first) != 0) {
      ++it;
      continue;
    }
    const rules::Finding* c = FindById(closed, it->first);
    QueueResolved(c != nullptr ? *c : it->second, now);
    it = told_firing_.erase(it);
  }
  // Restored from the state file: confirmed when open (sent with the open ones), resolved when
  // closed, forgotten after the hold; absent alone proves nothing yet (see the header).
  for (auto it = held_.begin(); it != held_.end();) {
    if (open_ids.count(it->first) != 0) {
      it = held_.erase(it);
    } else if (const rules::Finding* c = FindById(closed, it->first); c != nullptr) {
      QueueResolved(*c, now);
      it = held_.erase(it);
    } else if (mono_ms >= hold_until_ms_) {
      Log(LogLevel::kInfo, "alertmanager: restored firing finding not seen again, forgotten",
          {{"finding_id", it->first}});
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  const bool sent = Send(firing, now, mono_ms);
  UpdateGauges();
  PersistIfChanged();
  return sent;
}

void AlertmanagerSink::QueueResolved(rules::Finding f, ProcessingTime now) {
  if (resolved_ids_.count(f.id) != 0) return;  // queued (or sent) already
  resolved_ids_.insert(f.id);
  resolved_order_.push_back(f.id);
  while (resolved_order_.size() > kResolvedIdsCapacity) {
    resolved_ids_.erase(resolved_order_.front());
    resolved_order_.pop_front();
  }
  if (!f.end) f.end = EventTime{now.ms};
  pending_resolved_.push_back(std::move(f));
  if (pending_resolved_.size() > kMaxPendingResolved) {
    Log(LogLevel::kWarn, "alertmanager: resolved notice dropped (too many pending)",
        {{"finding_id", pending_resolved_.front().id}});
    pending_resolved_.pop_front();
  }
}

bool AlertmanagerSink::Send(const std::vector<const rules::Finding*>& firing, ProcessingTime now,
                            int64_t mono_ms) {
  bool changed = firing.size() != told_firing_.size();
  for (const rules::Finding* f : firing) {
    if (changed) break;
    auto t = told_firing_.find(f->id);
    changed = t == told_firing_.end() || t->second.severity != f->severity;
  }
  if (in_flight_) return false;
  if (!changed && pending_resolved_.empty() && mono_ms < next_send_ms_) return false;
  if (firing.empty() && pending_resolved_.empty()) {
    next_send_ms_ = mono_ms + config_.resend_interval_ms;
    return false;
  }

  std::vector<PostableFinding> alerts;
  alerts.reserve(firing.size() + pending_resolved_.size());
  const int64_t firing_ends_ms = now.ms + kEndsAtIntervals * config_.resend_interval_ms;
  std::map<std::string, rules::Finding> told;
  for (const rules::Finding* f : firing) {
    alerts.push_back({f, firing_ends_ms});
    told.emplace(f->id, *f);
  }
  for (const rules::Finding& f : pending_resolved_) alerts.push_back({&f, f.end->ms});
  PostRequest request;
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = BuildPostableAlerts(alerts, external_url_, areas_);
  request.connect_timeout_ms = config_.connect_timeout_ms;
  request.request_timeout_ms = config_.request_timeout_ms;
  in_flight_ = true;
  next_send_ms_ = mono_ms + config_.resend_interval_ms;
  AsyncPost(io_, tls_.get(), config_.url, std::move(request),
            [this, told = std::move(told), resolved = pending_resolved_.size()](
                HttpResult r) mutable { OnResult(r.status, r.error, std::move(told), resolved); });
  return true;
}

void AlertmanagerSink::OnResult(int status, const std::string& error,
                                std::map<std::string, rules::Finding> told,
                                size_t resolved_in_request) {
  in_flight_ = false;
  if (status >= 200 && status < 300) {
    posts_ok_.fetch_add(1, std::memory_order_relaxed);
    firing_sent_.fetch_add(told.size(), std::memory_order_relaxed);
    resolved_sent_.fetch_add(resolved_in_request, std::memory_order_relaxed);
    // Resolved notices added while the request was in flight stay queued (they are at the back).
    pending_resolved_.erase(
        pending_resolved_.begin(),
        pending_resolved_.begin() +
            static_cast<std::ptrdiff_t>(std::min(resolved_in_request, pending_resolved_.size())));
    // A finding that resolved while the request was in flight has its resolved notice queued:
    // it is not firing any more.
    for (auto it = told.begin(); it != told.end();) {
      it = resolved_ids_.count(it->first) != 0 ? told.erase(it) : std::next(it);
    }
    told_firing_ = std::move(told);
    if (failing_) {
      Log(LogLevel::kInfo, "alertmanager: reachable again", {{"url", config_.url.text}});
    }
    failing_ = false;
  } else {
    posts_failed_.fetch_add(1, std::memory_order_relaxed);
    next_send_ms_ = 0;  // retry at the next Update
    if (!failing_) {
      Log(LogLevel::kWarn, "alertmanager: post failed, will retry",
          {{"url", config_.url.text},
           {"status", std::to_string(status)},
           {"error", error.empty() ? "-" : error}});
    }
    failing_ = true;
  }
  UpdateGauges();
  PersistIfChanged();
}

void AlertmanagerSink::UpdateGauges() {
  firing_.store(told_firing_.size(), std::memory_order_relaxed);
  pending_resolved_count_.store(pending_resolved_.size(), std::memory_order_relaxed);
  held_count_.store(held_.size(), std::memory_order_relaxed);
}

// What the state file holds, without the parts that change at every evaluation (explanations and
// figures): the file is rewritten only when this changes, a few times an hour.
std::string AlertmanagerSink::StateSignature() const {
  std::string sig;
  for (const auto* m : {&told_firing_, &held_}) {
    for (const auto& [id, f] : *m)
      absl::StrAppend(&sig, "t ", id, " ", rules::SeverityName(f.severity), "\n");
  }
  for (const rules::Finding& f : pending_resolved_) absl::StrAppend(&sig, "p ", f.id, "\n");
  absl::StrAppend(&sig, "r ", resolved_order_.size(), " ",
                  resolved_order_.empty() ? "" : resolved_order_.back(), "\n");
  return sig;
}

void AlertmanagerSink::PersistIfChanged() {
  if (config_.state_file.empty()) return;
  std::string sig = StateSignature();
  if (sig == written_signature_) return;
  std::vector<StateLine> lines;
  for (const std::string& id : resolved_order_) lines.emplace_back("resolved", id);
  for (const auto& [id, f] : told_firing_) EncodeFinding("told", f, areas_, &lines);
  for (const auto& [id, f] : held_) {
    if (told_firing_.count(id) == 0) EncodeFinding("told", f, areas_, &lines);
  }
  for (const rules::Finding& f : pending_resolved_) {
    EncodeFinding("pending_resolved", f, areas_, &lines);
  }
  if (absl::Status s = WriteStateFile(config_.state_file, kStateMagic, lines); !s.ok()) {
    // Tried again at the next Update (the signature still differs).
    if (!state_failing_) {
      Log(LogLevel::kError, "alertmanager: state file write failed",
          {{"file", config_.state_file}, {"error", s.ToString()}});
    }
    state_failing_ = true;
    return;
  }
  if (state_failing_) {
    Log(LogLevel::kInfo, "alertmanager: state file written again", {{"file", config_.state_file}});
  }
  state_failing_ = false;
  written_signature_ = std::move(sig);
}

void AlertmanagerSink::LoadState() {
  const std::string& path = config_.state_file;
  absl::StatusOr<std::vector<StateLine>> lines = ReadStateFile(path, kStateMagic);
  if (absl::IsNotFound(lines.status())) return;  // first start
  std::map<std::string, rules::Finding> told;
  std::deque<rules::Finding> pending;
  std::deque<std::string> resolved;
  absl::Status bad = lines.status();
  rules::Finding* current = nullptr;  // the record the field lines belong to
  for (size_t i = 0; bad.ok() && i < lines->size(); ++i) {
    const auto& [key, value] = (*lines)[i];
    const bool record = key == "resolved" || key == "told" || key == "pending_resolved";
    bool ok = true;
    if (record && value.empty()) {
      ok = false;
    } else if (key == "resolved") {
      resolved.push_back(value);
      current = nullptr;
    } else if (key == "told") {
      current = &told[value];
      current->id = value;
    } else if (key == "pending_resolved") {
      pending.emplace_back();
      current = &pending.back();
      current->id = value;
    } else {
      ok = current != nullptr && DecodeField(key, value, areas_, current);
    }
    if (!ok) bad = absl::DataLossError(absl::StrCat("line ", i + 2, ": bad '", key, "' line"));
  }
  for (const rules::Finding& f : pending) {
    if (bad.ok() && !f.end) bad = absl::DataLossError("pending resolved notice without its end");
  }
  if (!bad.ok()) {
    absl::StatusOr<std::string> aside = SetAsideStateFile(path);
    Log(LogLevel::kWarn, "alertmanager: state file unreadable, set aside: starting empty",
        {{"file", path},
         {"error", std::string(bad.message())},
         {"moved_to", aside.ok() ? *aside : aside.status().ToString()}});
    return;
  }
  for (const std::string& id : resolved) {
    if (resolved_ids_.insert(id).second) resolved_order_.push_back(id);
  }
  while (resolved_order_.size() > kResolvedIdsCapacity) {
    resolved_ids_.erase(resolved_order_.front());
    resolved_order_.pop_front();
  }
  for (auto& [id, f] : told) {
    if (resolved_ids_.count(id) == 0) held_.emplace(id, std::move(f));
  }
  pending_resolved_ = std::move(pending);
  written_signature_ = StateSignature();
  UpdateGauges();
  Log(LogLevel::kInfo, "alertmanager: state restored",
      {{"file", path},
       {"held_firing", absl::StrCat(held_.size())},
       {"pending_resolved", absl::StrCat(pending_resolved_.size())},
       {"resolved", absl::StrCat(resolved_ids_.size())}});
}

AlertmanagerSink::Stats AlertmanagerSink::stats() const {
  Stats s;
  s.posts_ok = posts_ok_.load(std::memory_order_relaxed);
  s.posts_failed = posts_failed_.load(std::memory_order_relaxed);
  s.firing_sent = firing_sent_.load(std::memory_order_relaxed);
  s.resolved_sent = resolved_sent_.load(std::memory_order_relaxed);
  s.firing = firing_.load(std::memory_order_relaxed);
  s.pending_resolved = pending_resolved_count_.load(std::memory_order_relaxed);
  s.held = held_count_.load(std::memory_order_relaxed);
  s.refires_ignored = refires_ignored_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace smetsmon::webhook
