// Small builders for prometheus-cpp metric families assembled at scrape time by the probes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace smetsmon::metrics {

inline prometheus::MetricFamily Family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

inline void Add(prometheus::MetricFamily& f, double value,
                std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

// A family of one unlabelled series, appended to `out`.
inline void AddScalar(std::vector<prometheus::MetricFamily>& out, std::string name,
                      std::string help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily f = Family(std::move(name), std::move(help), type);
  Add(f, value);
  out.push_back(std::move(f));
}

}  // namespace smetsmon::metrics
