// smetsmon-bench-engine [--events N] [--premises N] [--repeat R] [--engine-only] [--config DIR]
// [--with-inventory] [--dedup-capacity N] [--workers N]:
// end-to-end rate
// of the engine per core over an in-memory batch of generated events (no Kafka, no file I/O),
// against the raw rate of simdjson extracting the same fields, measured in the same run on the same
// data.
//
//   raw:    simdjson On-Demand iterate + read every field's value (no validation, no state)
//   engine: the pipeline with one worker (pipeline::Pipeline: router scan, Decoder, Worker: dedup,
//           device state, fleet windows, totals), in batches of 4096 messages. Its rate per core
//           is events over the CPU time of every thread it used (the submitting thread that
//           routes, the worker, the rules thread), so it compares with the one-thread raw pass.
// and, to split the engine's cost, decoding alone and state updates alone (pre-decoded events).
//
// Each is run R times (default 3) alternately; the best run of each is reported.
// Also the engine with the rules on (their per-event inputs and their evaluation on the minute
// grid; rules_ratio = with / without) and the cost of one rules evaluation. And how the pipeline
// scales with workers: its wall-clock rate (rules off) with one worker and with N (--workers,
// default 2), alternately in the same run; workers_wall_ratio = N workers / one. On a machine
// with N cores the submitting thread (the router) shares them with the workers.
// Last line: {"events":N,"raw_events_per_s":...,"engine_events_per_s":...,"ratio":...,
//             "engine_rules_events_per_s":...,"rules_ratio":...,"rules_evaluation_ms":...,
//             "workers":N,"wall_events_per_s_1":...,"wall_events_per_s_n":...,
//             "workers_wall_ratio":...}
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <time.h>

#include "aggregate/engine.h"
#include "bench_util.h"
#include "decode/decoder.h"
#include "gen/generator.h"
#include "pipeline/pipeline.h"
#include "rules/evaluator.h"

namespace smetsmon {
namespace {

namespace od = simdjson::ondemand;

struct Batch {
  std::vector<char> bytes;                       // lines separated by '\n', padded at the end
  std::vector<std::pair<size_t, size_t>> lines;  // offset, length
};

// --with-inventory: the pipeline loads the generated population's inventory (enrichment and the
// migration load's installation days on the per-event path, as in production).
std::string g_inventory;

Batch Generate(const catalog::ReferenceData& ref, uint64_t events, uint64_t premises) {
  gen::GeneratorConfig config;
  config.premises = premises;
  // Enough simulated time for `events` lines at the configured rates plus scenarios.
  config.duration_ms = 24 * kMsPerHour;
  Batch b;
  gen::Generator g(*ref.areas, *ref.catalogue, config);
  if (!g_inventory.empty()) {
    std::ofstream inventory(g_inventory, std::ios::binary);
    g.WriteInventoryCsv(inventory);
  }
  std::string text;
  g.Run([&](std::string_view line) {
    if (b.lines.size() >= events) return;
    b.lines.emplace_back(text.size(), line.size());
    text.append(line);
    text.push_back('\n');
  });
  b.bytes.assign(text.begin(), text.end());
  b.bytes.resize(b.bytes.size() + simdjson::SIMDJSON_PADDING, ' ');
  return b;
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

uint64_t g_fields = 0;  // fields visited by the raw pass, to show it reads whole documents

// Reads every field's value the way the decoder would, and nothing more.
uint64_t RawPass(const Batch& b, od::parser& parser) {
  uint64_t sink = 0;
  for (const auto& [off, len] : b.lines) {
    od::document doc;
    if (parser
            .iterate(simdjson::padded_string_view(b.bytes.data() + off, len, b.bytes.size() - off))
            .get(doc)) {
      continue;
    }
    od::object obj;
    if (doc.get_object().get(obj)) continue;
    for (auto f : obj) {
      od::field field;
      if (std::move(f).get(field)) break;
      od::value& v = field.value();
      ++g_fields;
      od::json_type t;
      if (v.type().get(t)) break;
      if (t == od::json_type::string) {
        std::string_view s;
        if (!v.get_string().get(s)) sink += s.size();
      } else if (t == od::json_type::number) {
        int64_t n;
        if (!v.get_int64().get(n)) sink += static_cast<uint64_t>(n);
      }
    }
  }
  return sink;
}

// Lines of the in-memory batch, handed to the pipeline in place.
struct ViewBatch : pipeline::SourceBatch {};

double ThreadCpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Every line through a fresh one-worker pipeline (rules on or off); returns the CPU seconds its
// threads used (the caller's routing included) and sets `wall_s`. With rules, also times one full
// rules evaluation at the end (`evaluation_s`, best of 5).
// --config DIR: the pipeline's config directory instead of the shipped one (an A/B of a rules
// setting in one run of the same build).
std::string g_config_dir;
// --dedup-capacity N: the duplicate filter's size instead of the default (24 Mi ids, 384 MiB), to
// measure what the filter's memory costs per event.
size_t g_dedup_capacity = 0;

double RunEngine(const Batch& batch, uint64_t premises, bool rules, uint64_t* accepted,
                 double* wall_s, double* evaluation_s = nullptr, size_t workers = 1) {
  pipeline::PipelineConfig config = bench::PipelineConfigFor(workers, rules);
  if (!g_config_dir.empty()) config.reference.config_dir = g_config_dir;
  if (g_dedup_capacity != 0) config.engine.dedup_capacity = g_dedup_capacity;
  config.inventory_path = g_inventory;
  config.engine.expected_devices = premises * 2;
  SystemClock clock;
  auto built = pipeline::Pipeline::Create(config, clock);
  if (!built.ok()) {
    std::fprintf(stderr, "bench: %s\n", built.status().ToString().c_str());
    std::exit(2);
  }
  pipeline::Pipeline& p = **built;
  const ProcessingTime now{4'000'000'000'000};  // after every generated event
  constexpr size_t kBatch = 4096;
  const double cpu0 = ThreadCpuNow();
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < batch.lines.size(); i += kBatch) {
    auto b = std::make_unique<ViewBatch>();
    b->received = now;
    for (size_t j = i; j < std::min(batch.lines.size(), i + kBatch); ++j) {
      b->messages.emplace_back(batch.bytes.data() + batch.lines[j].first, batch.lines[j].second);
    }
    while (!p.CanSubmit()) {
      p.WaitForFront(1000);
      p.Reap(false, {});
    }
    p.Submit(std::move(b));
  }
  p.Finish({});
  const auto t1 = std::chrono::steady_clock::now();
  const double cpu = ThreadCpuNow() - cpu0 + bench::PipelineThreadsCpuSeconds();
  *wall_s = Seconds(t0, t1);
  if (accepted != nullptr) *accepted = p.engine().Counters().accepted;
  p.Stop();
  if (rules && evaluation_s != nullptr) {
    for (int i = 0; i < 5; ++i) {
      const auto e0 = std::chrono::steady_clock::now();
      p.evaluator()->Tick(p.engine().StreamTime(), /*force=*/true);
      *evaluation_s = std::min(*evaluation_s, Seconds(e0, std::chrono::steady_clock::now()));
    }
  }
  return cpu;
}

}  // namespace
}  // namespace smetsmon

int main(int argc, char** argv) {
  using namespace smetsmon;
  uint64_t events = 2'000'000;
  uint64_t premises = 1'000'000;
  int repeat = 3;
  bool engine_only = false;  // --engine-only: the full engine alone, to profile it (no JSON line)
  size_t scale_workers = 2;  // --workers N: the worker count compared with one for the scaling
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      events = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--premises") == 0 && i + 1 < argc) {
      premises = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--engine-only") == 0) {
      engine_only = true;
    } else if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      g_config_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--dedup-capacity") == 0 && i + 1 < argc) {
      g_dedup_capacity = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      scale_workers = std::clamp<size_t>(std::strtoull(argv[++i], nullptr, 10), 1, 64);
    } else if (std::strcmp(argv[i], "--with-inventory") == 0) {
      g_inventory = "/tmp/smetsmon-bench-engine-inventory.csv";
    } else {
      std::fprintf(stderr,
                   "usage: smetsmon-bench-engine [--events N] [--premises N] [--repeat R] "
                   "[--engine-only] [--config DIR] [--with-inventory] [--dedup-capacity N] "
                   "[--workers N]\n");
      return 2;
    }
  }
  auto ref = bench::LoadReference();
  const Batch batch = Generate(ref, events, premises);
  const auto n = static_cast<double>(batch.lines.size());
  std::fprintf(stderr, "batch: %zu events, %zu bytes (%.0f B/event), %llu premises\n",
               batch.lines.size(), batch.bytes.size(), static_cast<double>(batch.bytes.size()) / n,
               static_cast<unsigned long long>(premises));

  od::parser parser;
  double best_raw = 1e100, best_engine = 1e100, best_decode = 1e100, best_apply = 1e100,
         best_rules = 1e100, evaluation_s = 1e100;
  uint64_t sink = 0, accepted = 0;
  double wall = 0, best_wall = 1e100, best_wall_n = 1e100;
  if (engine_only) {
    for (int r = 0; r < repeat; ++r) {
      best_engine = std::min(best_engine, RunEngine(batch, premises, false, &accepted, &wall));
      best_wall = std::min(best_wall, wall);
    }
    std::fprintf(stderr, "engine %.0f events/s per core, %.0f events/s wall\n", n / best_engine,
                 n / best_wall);
    return 0;
  }
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    sink += RawPass(batch, parser);
    auto t1 = std::chrono::steady_clock::now();
    best_raw = std::min(best_raw, Seconds(t0, t1));

    // Decoding alone (validation + enrichment), to split the engine's cost.
    {
      decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
      const ProcessingTime now{4'000'000'000'000};
      uint64_t ok = 0;
      t0 = std::chrono::steady_clock::now();
      for (const auto& [off, len] : batch.lines) {
        AlertEvent e;
        ok += decoder.DecodePadded(std::string_view(batch.bytes.data() + off, len),
                                   batch.bytes.size() - off, now, &e) == RejectReason::kNone;
      }
      t1 = std::chrono::steady_clock::now();
      best_decode = std::min(best_decode, Seconds(t0, t1));
      sink += ok;
    }

    // State updates alone on pre-decoded events (fresh engine), to split the engine's cost.
    {
      aggregate::EngineConfig config;
      config.expected_devices = premises * 2;
      aggregate::Engine engine(ref, config);
      decode::Decoder decoder({ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
      std::vector<AlertEvent> decoded;
      decoded.reserve(batch.lines.size());
      const ProcessingTime now{4'000'000'000'000};
      for (const auto& [off, len] : batch.lines) {
        AlertEvent e;
        if (decoder.DecodePadded(std::string_view(batch.bytes.data() + off, len),
                                 batch.bytes.size() - off, now, &e) == RejectReason::kNone) {
          decoded.push_back(e);
        }
      }
      t0 = std::chrono::steady_clock::now();
      for (size_t i = 0; i < decoded.size(); i += 256) {
        engine.worker(0).ApplyBatch(
            std::span(decoded).subspan(i, std::min<size_t>(256, decoded.size() - i)));
      }
      t1 = std::chrono::steady_clock::now();
      best_apply = std::min(best_apply, Seconds(t0, t1));
    }

    // The full engine, without and with the rules' per-event inputs (delivery, what-if, noisy
    // devices, outage signals); a fresh engine each run so every run does the same work.
    best_engine = std::min(best_engine, RunEngine(batch, premises, false, &accepted, &wall));
    best_wall = std::min(best_wall, wall);
    best_rules =
        std::min(best_rules, RunEngine(batch, premises, true, nullptr, &wall, &evaluation_s));
    RunEngine(batch, premises, false, nullptr, &wall, nullptr, scale_workers);
    best_wall_n = std::min(best_wall_n, wall);
  }
  const double raw_rate = n / best_raw;
  const double engine_rate = n / best_engine;
  const double rules_rate = n / best_rules;
  std::fprintf(stderr, "raw pass read %.2f fields per event\n",
               static_cast<double>(g_fields) / (n * repeat));
  std::fprintf(
      stderr,
      "raw %.0f events/s, decode only %.0f events/s, state only %.0f events/s, engine %.0f "
      "events/s per core (%.0f events/s wall, one worker), engine with rules %.0f events/s per "
      "core (accepted %llu, sink %llu); one rules evaluation %.2f ms; %zu workers %.0f events/s "
      "wall (%.2f times one worker)\n",
      raw_rate, n / best_decode, n / best_apply, engine_rate, n / best_wall, rules_rate,
      static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(sink & 1),
      evaluation_s * 1e3, scale_workers, n / best_wall_n, best_wall / best_wall_n);
  std::printf(
      "{\"events\":%zu,\"raw_events_per_s\":%.0f,\"engine_events_per_s\":%.0f,\"ratio\":%.3f,"
      "\"engine_rules_events_per_s\":%.0f,\"rules_ratio\":%.3f,\"rules_evaluation_ms\":%.2f,"
      "\"workers\":%zu,\"wall_events_per_s_1\":%.0f,\"wall_events_per_s_n\":%.0f,"
      "\"workers_wall_ratio\":%.3f}\n",
      batch.lines.size(), raw_rate, engine_rate, engine_rate / raw_rate, rules_rate,
      rules_rate / engine_rate, evaluation_s * 1e3, scale_workers, n / best_wall, n / best_wall_n,
      best_wall / best_wall_n);
  return 0;
}
