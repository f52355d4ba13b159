// The HTTP server's probe: what it refused, by reason, and the connections open now.
//
//   smetsmon_http_rejected_total{reason="connections|header_too_large|body_too_large|
//                                       rate_limited|timeout|bad_request"}
//   smetsmon_http_open_connections
//
// Alert on a sustained `rate(smetsmon_http_rejected_total{reason="connections"}[5m]) > 0`:
// something holds the connection cap (http.max_connections).
// Thread-safety: reads the server's atomics from any thread. Time domain: none.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "http/server.h"
#include "metrics/family.h"

namespace smetsmon::metrics {

class HttpMetrics final : public prometheus::Collectable {
 public:
  explicit HttpMetrics(std::shared_ptr<const http::ServerStats> stats) : stats_(std::move(stats)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    auto rejected = Family("smetsmon_http_rejected_total",
                           "HTTP connections and requests refused, by reason (the server's limits "
                           "in http.*; docs/operations.md).",
                           MetricType::Counter);
    for (size_t r = 0; r < http::kRejectReasons; ++r) {
      const auto reason = static_cast<http::RejectReason>(r);
      Add(rejected, static_cast<double>(stats_->Rejected(reason)),
          {{"reason", std::string(http::RejectReasonName(reason))}});
    }
    auto open =
        Family("smetsmon_http_open_connections",
               "HTTP connections open now (at most http.max_connections).", MetricType::Gauge);
    Add(open, static_cast<double>(stats_->open_connections.load(std::memory_order_relaxed)));
    return {std::move(rejected), std::move(open)};
  }

 private:
  std::shared_ptr<const http::ServerStats> stats_;
};

}  // namespace smetsmon::metrics
