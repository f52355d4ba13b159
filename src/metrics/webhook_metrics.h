// The outputs' Prometheus probe: webhook deliveries and ignored re-fires per receiver (from the
// dispatcher's Stats) and the Alertmanager sink's posts, held alerts and ignored re-fires, read at
// scrape time. Labels: receiver (from config, bounded by it), outcome and status (fixed sets).
//
// Thread-safety: Collect() may run on any thread (both sources give consistent copies).
#pragma once

#include <vector>

#include <prometheus/collectable.h>

#include "webhook/alertmanager_sink.h"
#include "webhook/dispatcher.h"

namespace smetsmon::metrics {

class WebhookMetrics final : public prometheus::Collectable {
 public:
  // Either may be null (not configured); both must outlive this probe.
  WebhookMetrics(const webhook::Dispatcher* dispatcher, const webhook::AlertmanagerSink* sink)
      : dispatcher_(dispatcher), sink_(sink) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const webhook::Dispatcher* dispatcher_;
  const webhook::AlertmanagerSink* sink_;
};

}  // namespace smetsmon::metrics
