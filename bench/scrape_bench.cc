// smetsmon-bench-scrape [--premises N] [--hours H] [--repeat R] [--config DIR]: the cost of one
// Prometheus scrape of the daemon at realistic cardinality, against the budget: the full
// set at most 20,000 series and at most 50 ms to serialise.
//
// Builds the system as `smetsmon run` does (pipeline::Pipeline: reference data and rules.yaml from
// DIR, default the source tree's config/; the rules on their minute grid), drives H hours (default
// 24) of generated traffic from N premises (default 200,000: every area, category, generation, DMC
// and the rules' scenarios populated) through it, then in the same run times R times (default 20):
//   collect: the Collect() of every probe the daemon serves (engine, rules, webhooks with one
//            receiver per area and the Alertmanager sink, process) — the families, no text
//   render:  metrics::RenderText of them all, what GET /metrics returns (collect included)
// No Kafka (its per-partition lag adds 2 series per assigned partition). Series = sample lines of
// the text (non-empty, not starting with '#'); the per-family breakdown is printed largest first.
// Human-readable lines go to stderr; the last line, on stdout:
//   {"series":N,"bytes":B,"collect_ms_p50":x,"render_ms_p50":y,"render_ms_max":z,
//    "series_budget":20000,"render_budget_ms":50,"within_budget":true}
// Run from a Release build: build/bench/smetsmon-bench-scrape
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>
#include <yaml-cpp/yaml.h>
#include <boost/asio/io_context.hpp>

#include "aggregate/engine.h"
#include "catalog/reference_data.h"
#include "decode/decoder.h"
#include "gen/generator.h"
#include "metrics/daemon_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/rules_metrics.h"
#include "metrics/webhook_metrics.h"
#include "pipeline/pipeline.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"
#include "webhook/config.h"

namespace smetsmon {
namespace {

constexpr size_t kSeriesBudget = 20000;
constexpr double kRenderBudgetMs = 50.0;

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Median (upper median for an even count) of a copy of `v`; 0 when empty.
double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct SeriesCount {
  size_t total = 0;
  std::map<std::string, size_t> by_family;  // family name from the preceding "# TYPE" line
};

// Counts the sample lines of an exposition text, per family.
SeriesCount CountSeries(const std::string& text) {
  SeriesCount out;
  std::string family = "(no TYPE line)";
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + at, end - at);
    at = end + 1;
    if (line.empty()) continue;
    if (line[0] == '#') {
      constexpr std::string_view kType = "# TYPE ";
      if (line.substr(0, kType.size()) == kType) {
        const std::string_view rest = line.substr(kType.size());
        family = std::string(rest.substr(0, rest.find(' ')));
      }
      continue;
    }
    ++out.total;
    ++out.by_family[family];
  }
  return out;
}

void Usage() {
  std::fprintf(stderr,
               "usage: smetsmon-bench-scrape [--premises N] [--hours H] [--repeat R] "
               "[--config DIR]\n");
}

// Lines of generated traffic handed to the pipeline.
struct LineBatch : pipeline::SourceBatch {
  std::vector<std::string> storage;
};

int Run(uint64_t premises, int64_t hours, int repeat, const std::string& config_dir) {
  // The system as `smetsmon run` builds it (config/smetsmon.yaml defaults, rules.yaml from DIR).
  pipeline::PipelineConfig config;
  config.reference.config_dir = config_dir;
  config.engine.expected_devices = premises * 2;  // a hub and a meter per premises
  SystemClock system_clock;
  auto built = pipeline::Pipeline::Create(config, system_clock);
  if (!built.ok()) {
    std::fprintf(stderr, "bench: %s\n", built.status().ToString().c_str());
    return 2;
  }
  pipeline::Pipeline& p = **built;
  if (p.evaluator() == nullptr) {
    std::fprintf(stderr, "bench: no rules.yaml in %s\n", config_dir.c_str());
    return 2;
  }
  const catalog::ReferenceData& ref = p.ref();
  const aggregate::Engine& engine = p.engine();
  rules::Evaluator* evaluator = p.evaluator();

  // Traffic: through the pipeline in batches; the rules evaluate on their minute grid.
  gen::GeneratorConfig traffic;
  traffic.premises = premises;
  traffic.duration_ms = hours * kMsPerHour;
  gen::Generator generator(*ref.areas, *ref.catalogue, traffic);
  const ProcessingTime now{4'000'000'000'000};  // after every generated event
  std::unique_ptr<LineBatch> batch;
  const auto submit = [&] {
    for (const std::string& l : batch->storage) batch->messages.emplace_back(l);
    batch->received = now;
    while (!p.CanSubmit()) {
      p.WaitForFront(1000);
      p.Reap(false, {});
    }
    p.Submit(std::move(batch));
  };
  uint64_t lines = 0;
  const auto load0 = std::chrono::steady_clock::now();
  generator.Run([&](std::string_view line) {
    ++lines;
    if (batch == nullptr) batch = std::make_unique<LineBatch>();
    batch->storage.emplace_back(line);
    if (batch->storage.size() == 4096) submit();
  });
  if (batch != nullptr) submit();
  p.Finish({});
  const auto load1 = std::chrono::steady_clock::now();
  const aggregate::CounterTotals totals = engine.Counters();
  std::fprintf(stderr,
               "traffic: %llu premises, %lld h, %llu lines, %llu accepted, %llu devices, "
               "%llu rules evaluations (%.1f s to build)\n",
               static_cast<unsigned long long>(premises), static_cast<long long>(hours),
               static_cast<unsigned long long>(lines),
               static_cast<unsigned long long>(totals.accepted),
               static_cast<unsigned long long>(totals.devices),
               static_cast<unsigned long long>(evaluator->evaluations()), Ms(load0, load1) / 1e3);

  // How much of the fleet's label space the traffic populated (cumulative counts per known area x
  // category x generation, and SMETS1 DMC x category): the scrape is measured at this cardinality.
  {
    const aggregate::FleetLayout& l = engine.layout();
    const std::vector<uint64_t> cum = engine.Totals();
    const size_t areas = ref.areas->size();
    std::vector<uint8_t> seen(areas * l.categories() * 2, 0);
    for (size_t a = 0; a < areas; ++a) {
      for (size_t c = 0; c < l.code_slots(); ++c) {
        for (const Generation g : {Generation::kSmets1, Generation::kSmets2}) {
          if (cum[l.MainCell(a, c, g)] == 0) continue;
          const size_t gi = g == Generation::kSmets1 ? 0 : 1;
          seen[(a * l.categories() + l.CategoryOfSlot(c)) * 2 + gi] = 1;
        }
      }
    }
    const std::vector<uint64_t> day = engine.View(aggregate::View::k24h, engine.StreamTime());
    size_t dmc_cells = 0;
    for (uint16_t d = 0; d < l.dmc_limit(); ++d) {
      for (size_t c = 0; c < l.categories(); ++c) dmc_cells += day[l.DmcCell(d, c)] != 0;
    }
    std::fprintf(stderr,
                 "populated: %zu of %zu area x category x generation combinations (%zu areas, %zu "
                 "categories), %zu SMETS1 DMC x category cells in the 24 h view (%zu DMCs)\n",
                 static_cast<size_t>(std::count(seen.begin(), seen.end(), 1)), seen.size(), areas,
                 l.categories(), dmc_cells, ref.dmcs->size());
    // Category x generation pairs the traffic never raised in any area (what the generator does
    // not emit, not a matter of fleet size).
    std::string never;
    for (size_t c = 0; c < l.categories(); ++c) {
      for (size_t gi = 0; gi < 2; ++gi) {
        bool any = false;
        for (size_t a = 0; a < areas && !any; ++a) any = seen[(a * l.categories() + c) * 2 + gi];
        if (!any) {
          never += (never.empty() ? "" : ", ") + ref.catalogue->categories()[c] +
                   (gi == 0 ? "/smets1" : "/smets2");
        }
      }
    }
    if (!never.empty()) std::fprintf(stderr, "never raised: %s\n", never.c_str());
  }

  ManualClock clock(now);
  const metrics::DaemonMetrics daemon_metrics(engine, /*kafka=*/nullptr, clock, &p);
  const metrics::RulesMetrics rules_metrics(*evaluator);
  const metrics::ProcessMetrics process_metrics;
  // The outputs' probe as a DCC deployment would have it: one webhook receiver per area (its
  // DNO's endpoint) and the Alertmanager sink. Nothing is sent; the series are what is measured.
  std::string webhooks_yaml =
      "spool_dir: " +
      (std::filesystem::temp_directory_path() / "smetsmon-bench-scrape-spool").string() +
      "\nalertmanager: {url: 'http://127.0.0.1:1'}\nreceivers:\n";
  for (size_t a = 0; a < ref.areas->size(); ++a) {
    webhooks_yaml += "  - {name: area" + std::to_string(a) +
                     ", url: 'http://127.0.0.1:1/hook', secret_env: PATH, areas: [" +
                     std::to_string(ref.areas->areas()[a].distributor_id) + "]}\n";
  }
  auto webhooks_config = webhook::LoadWebhookConfig(YAML::Load(webhooks_yaml), "bench", *ref.areas);
  if (!webhooks_config.ok()) {
    std::fprintf(stderr, "%s\n", webhooks_config.status().ToString().c_str());
    return 1;
  }
  boost::asio::io_context io;
  auto sink = webhook::AlertmanagerSink::Create(*webhooks_config->alertmanager, "", *ref.areas, io);
  auto dispatcher = webhook::Dispatcher::Create(*webhooks_config, *ref.areas, clock);
  if (!sink.ok() || !dispatcher.ok()) {
    std::fprintf(stderr, "webhook outputs: %s %s\n", sink.status().ToString().c_str(),
                 dispatcher.status().ToString().c_str());
    return 1;
  }
  const metrics::WebhookMetrics webhook_metrics(dispatcher->get(), sink->get());

  // Alternate the two measurements so both see the same cache and frequency conditions.
  std::vector<double> collect_ms, render_ms;
  size_t families = 0, bytes = 0;
  std::string text;
  for (int r = 0; r < repeat; ++r) {
    const auto c0 = std::chrono::steady_clock::now();
    std::vector<prometheus::MetricFamily> a = daemon_metrics.Collect();
    std::vector<prometheus::MetricFamily> b = rules_metrics.Collect();
    std::vector<prometheus::MetricFamily> c = webhook_metrics.Collect();
    std::vector<prometheus::MetricFamily> p = process_metrics.Collect();
    const auto c1 = std::chrono::steady_clock::now();
    collect_ms.push_back(Ms(c0, c1));
    families = a.size() + b.size() + c.size() + p.size();

    const auto r0 = std::chrono::steady_clock::now();
    text =
        metrics::RenderText({&daemon_metrics, &rules_metrics, &webhook_metrics, &process_metrics});
    const auto r1 = std::chrono::steady_clock::now();
    render_ms.push_back(Ms(r0, r1));
    bytes = std::max(bytes, text.size());
  }

  const SeriesCount series = CountSeries(text);
  std::vector<std::pair<std::string, size_t>> ranked(series.by_family.begin(),
                                                     series.by_family.end());
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& x, const auto& y) { return x.second > y.second; });
  std::fprintf(stderr, "series per family (%zu families), largest first:\n", families);
  for (const auto& [name, n] : ranked) {
    std::fprintf(stderr, "  %6zu  %s\n", n, name.c_str());
  }
  const double collect_p50 = Median(collect_ms);
  const double render_p50 = Median(render_ms);
  const double render_max = *std::max_element(render_ms.begin(), render_ms.end());
  const bool within = series.total <= kSeriesBudget && render_max <= kRenderBudgetMs;
  std::fprintf(stderr,
               "scrape: %zu series, %zu bytes; over %d runs collect p50 %.3f ms, render (collect + "
               "text) p50 %.3f ms, max %.3f ms; budget %zu series, %.0f ms: %s\n",
               series.total, bytes, repeat, collect_p50, render_p50, render_max, kSeriesBudget,
               kRenderBudgetMs, within ? "within" : "EXCEEDED");
  std::printf(
      "{\"series\":%zu,\"bytes\":%zu,\"collect_ms_p50\":%.3f,\"render_ms_p50\":%.3f,"
      "\"render_ms_max\":%.3f,\"series_budget\":%zu,\"render_budget_ms\":%.0f,"
      "\"within_budget\":%s}\n",
      series.total, bytes, collect_p50, render_p50, render_max, kSeriesBudget, kRenderBudgetMs,
      within ? "true" : "false");
  return 0;
}

}  // namespace
}  // namespace smetsmon

int main(int argc, char** argv) {
  uint64_t premises = 200'000;
  int64_t hours = 24;
  int repeat = 20;
  std::string config_dir = std::string(SMETSMON_SOURCE_DIR) + "/config";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--premises") == 0 && i + 1 < argc) {
      premises = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--hours") == 0 && i + 1 < argc) {
      hours = std::max<int64_t>(1, std::strtoll(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_dir = argv[++i];
    } else {
      smetsmon::Usage();
      return 2;
    }
  }
  return smetsmon::Run(premises, hours, repeat, config_dir);
}
