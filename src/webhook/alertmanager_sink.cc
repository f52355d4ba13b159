#include "webhook/alertmanager_sink.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "webhook/http_client.h"
#include "webhook/payload.h"

namespace smetsmon::webhook {
namespace {

// Resolved notices kept while Alertmanager is unreachable; past this the oldest are dropped (their
// firing alerts then expire on their own endsAt).
constexpr size_t kMaxPendingResolved = 1000;
// A firing alert's endsAt is this many resend intervals ahead, as Prometheus does.
constexpr int64_t kEndsAtIntervals = 4;

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
                              const std::vector<rules::Finding>& closed, ProcessingTime now) {
  // What Alertmanager believes is firing but no longer is: resolved. The closed copy carries the
  // end time; a finding gone without one (a reload dropped it) ends now.
  std::set<std::string> open_ids;
  for (const rules::Finding& f : open) open_ids.insert(f.id);
  for (auto it = told_firing_.begin(); it != told_firing_.end();) {
    if (open_ids.count(it->first) != 0) {
      ++it;
      continue;
    }
    const bool already = std::any_of(pending_resolved_.begin(), pending_resolved_.end(),
                                     [&](const rules::Finding& p) { return p.id == it->first; });
    if (!already) {
      auto c = std::find_if(closed.begin(), closed.end(),
                            [&](const rules::Finding& f) { return f.id == it->first; });
      rules::Finding resolved = c != closed.end() ? *c : it->second;
      if (!resolved.end) resolved.end = EventTime{now.ms};
      pending_resolved_.push_back(std::move(resolved));
      if (pending_resolved_.size() > kMaxPendingResolved) {
        Log(LogLevel::kWarn, "alertmanager: resolved notice dropped (too many pending)",
            {{"finding_id", pending_resolved_.front().id}});
        pending_resolved_.pop_front();
      }
    }
    it = told_firing_.erase(it);
  }
  pending_resolved_count_.store(pending_resolved_.size(), std::memory_order_relaxed);

  bool changed = open.size() != told_firing_.size();
  for (const rules::Finding& f : open) {
    if (changed) break;
    auto t = told_firing_.find(f.id);
    changed = t == told_firing_.end() || t->second.severity != f.severity;
  }
  if (in_flight_) return false;
  if (!changed && pending_resolved_.empty() && now.ms < next_send_ms_) return false;
  if (open.empty() && pending_resolved_.empty()) {
    next_send_ms_ = now.ms + config_.resend_interval_ms;
    return false;
  }

  std::vector<PostableFinding> alerts;
  alerts.reserve(open.size() + pending_resolved_.size());
  const int64_t firing_ends_ms = now.ms + kEndsAtIntervals * config_.resend_interval_ms;
  std::map<std::string, rules::Finding> told;
  for (const rules::Finding& f : open) {
    alerts.push_back({&f, firing_ends_ms});
    told.emplace(f.id, f);
  }
  for (const rules::Finding& f : pending_resolved_) alerts.push_back({&f, f.end->ms});
  PostRequest request;
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = BuildPostableAlerts(alerts, external_url_, areas_);
  request.connect_timeout_ms = config_.connect_timeout_ms;
  request.request_timeout_ms = config_.request_timeout_ms;
  in_flight_ = true;
  next_send_ms_ = now.ms + config_.resend_interval_ms;
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
  firing_.store(told_firing_.size(), std::memory_order_relaxed);
  pending_resolved_count_.store(pending_resolved_.size(), std::memory_order_relaxed);
}

AlertmanagerSink::Stats AlertmanagerSink::stats() const {
  Stats s;
  s.posts_ok = posts_ok_.load(std::memory_order_relaxed);
  s.posts_failed = posts_failed_.load(std::memory_order_relaxed);
  s.firing_sent = firing_sent_.load(std::memory_order_relaxed);
  s.resolved_sent = resolved_sent_.load(std::memory_order_relaxed);
  s.firing = firing_.load(std::memory_order_relaxed);
  s.pending_resolved = pending_resolved_count_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace smetsmon::webhook
