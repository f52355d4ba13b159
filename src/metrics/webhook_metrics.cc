#include "metrics/webhook_metrics.h"

#include <string>
#include <utility>

#include "metrics/family.h"

namespace smetsmon::metrics {

using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> WebhookMetrics::Collect() const {
  std::vector<MetricFamily> out;
  if (dispatcher_ != nullptr) {
    auto deliveries = Family("smetsmon_webhook_deliveries_total",
                             "Webhook notification attempts by receiver and outcome: delivered "
                             "(2xx), retried (5xx, 408, 429, no answer), rejected (other 4xx, "
                             "not retried), dead_lettered (past max age), superseded (replaced by "
                             "a newer state of the finding before delivery).",
                             MetricType::Counter);
    auto depth = Family("smetsmon_webhook_queue_depth",
                        "Notifications pending per receiver (spooled on disk), in flight included.",
                        MetricType::Gauge);
    auto age = Family("smetsmon_webhook_oldest_pending_age_seconds",
                      "Age of the oldest pending notification per receiver; 0 when none.",
                      MetricType::Gauge);
    auto circuit =
        Family("smetsmon_webhook_circuit_state",
               "Per-receiver circuit breaker: 0 closed, 1 open, 2 half-open.", MetricType::Gauge);
    auto opened = Family("smetsmon_webhook_circuit_opened_total",
                         "Times a receiver's circuit breaker opened.", MetricType::Counter);
    auto refires = Family("smetsmon_webhook_refires_ignored_total",
                          "Firing states of findings already resolved (a restored evaluator "
                          "catching up after a restart) not sent: per receiver they match, at "
                          "each rules evaluation that lists them open.",
                          MetricType::Counter);
    auto spool_errors = Family("smetsmon_webhook_spool_write_errors_total",
                               "Spool file writes that failed per receiver (the notification "
                               "stays queued in memory and is written again at each retry).",
                               MetricType::Counter);
    auto evicted = Family("smetsmon_webhook_spool_evicted_total",
                          "Notifications per receiver dead-lettered to keep the pending spool "
                          "under webhooks.spool_max_bytes / spool_max_files (lowest priority, "
                          "then oldest, first; see spool_dir/dead/).",
                          MetricType::Counter);
    for (const webhook::ReceiverStats& s : dispatcher_->Stats()) {
      const std::string& r = s.receiver;
      for (const auto& [outcome, n] : {std::pair<const char*, uint64_t>{"delivered", s.delivered},
                                       {"retried", s.retried},
                                       {"rejected", s.rejected},
                                       {"dead_lettered", s.dead_lettered},
                                       {"superseded", s.superseded}}) {
        Add(deliveries, static_cast<double>(n), {{"receiver", r}, {"outcome", outcome}});
      }
      Add(depth, static_cast<double>(s.queue_depth), {{"receiver", r}});
      Add(age, s.oldest_pending_age_seconds, {{"receiver", r}});
      Add(circuit, static_cast<double>(s.circuit), {{"receiver", r}});
      Add(opened, static_cast<double>(s.circuit_opened), {{"receiver", r}});
      Add(refires, static_cast<double>(s.refires_ignored), {{"receiver", r}});
      Add(spool_errors, static_cast<double>(s.spool_write_errors), {{"receiver", r}});
      Add(evicted, static_cast<double>(s.spool_evicted), {{"receiver", r}});
    }
    const webhook::SpoolUsage usage = dispatcher_->spool_usage();
    auto spool_bytes = Family("smetsmon_webhook_spool_bytes",
                              "Total size of the pending webhook spool files (all receivers), "
                              "against webhooks.spool_max_bytes.",
                              MetricType::Gauge);
    Add(spool_bytes, static_cast<double>(usage.bytes));
    auto spool_files = Family("smetsmon_webhook_spool_files",
                              "Pending webhook spool files (all receivers), against "
                              "webhooks.spool_max_files.",
                              MetricType::Gauge);
    Add(spool_files, static_cast<double>(usage.files));
    for (auto* f : {&deliveries, &depth, &age, &circuit, &opened, &refires, &spool_errors, &evicted,
                    &spool_bytes, &spool_files}) {
      out.push_back(std::move(*f));
    }
  }
  if (sink_ != nullptr) {
    const webhook::AlertmanagerSink::Stats s = sink_->stats();
    auto posts = Family("smetsmon_alertmanager_posts_total",
                        "Requests to Alertmanager's /api/v2/alerts by outcome (ok: 2xx).",
                        MetricType::Counter);
    Add(posts, static_cast<double>(s.posts_ok), {{"outcome", "ok"}});
    Add(posts, static_cast<double>(s.posts_failed), {{"outcome", "failed"}});
    auto alerts = Family("smetsmon_alertmanager_alerts_sent_total",
                         "Alerts delivered to Alertmanager (periodic re-sends of firing ones "
                         "included) by status.",
                         MetricType::Counter);
    Add(alerts, static_cast<double>(s.firing_sent), {{"status", "firing"}});
    Add(alerts, static_cast<double>(s.resolved_sent), {{"status", "resolved"}});
    auto firing = Family("smetsmon_alertmanager_firing_alerts",
                         "Findings Alertmanager was last told are firing.", MetricType::Gauge);
    Add(firing, static_cast<double>(s.firing));
    auto pending =
        Family("smetsmon_alertmanager_pending_resolved",
               "Resolved notices waiting for Alertmanager to be reachable.", MetricType::Gauge);
    Add(pending, static_cast<double>(s.pending_resolved));
    auto held = Family("smetsmon_alertmanager_held_alerts",
                       "Findings restored from the sink's state file as told firing that the "
                       "rules have not listed open or closed since the restart (held up to 24 h, "
                       "not re-sent meanwhile).",
                       MetricType::Gauge);
    Add(held, static_cast<double>(s.held));
    auto refires = Family("smetsmon_alertmanager_refires_ignored_total",
                          "Open findings not sent as firing because their resolved notice was "
                          "already queued or sent (a restored evaluator catching up), per update.",
                          MetricType::Counter);
    Add(refires, static_cast<double>(s.refires_ignored));
    for (auto* f : {&posts, &alerts, &firing, &pending, &held, &refires}) {
      out.push_back(std::move(*f));
    }
  }
  return out;
}

}  // namespace smetsmon::metrics
