// smetsmon replay FILE... : see commands.h.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/settings.h"
#include "ingest/replay.h"
#include "pipeline/pipeline.h"
#include "report/replay_report.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"

namespace smetsmon::app {
namespace {

constexpr char kUsage[] =
    "usage: smetsmon replay FILE... [--config DIR] [--inventory CSV] [--rejects FILE]\n"
    "                        [--report json|text] [--snapshot-in FILE] [--snapshot-out FILE]\n"
    "                        [--storm-seed FILE] [--baselines-out FILE]\n"
    "                        [--workers N] [--batch-lines N] [--no-progress]\n"
    "Replays JSON Lines alert files (plain or .gz) on event time and prints a report.\n"
    "With --report json the last line of stdout is one JSON object.\n"
    "--baselines-out writes the storm baselines learned (a seed for storms.seed_file or\n"
    "--storm-seed of a later run); --storm-seed starts storm detection from such a file.\n";

struct Args {
  std::vector<std::string> files;
  std::string config_dir = "config";
  std::string inventory;
  std::string rejects;
  std::string report = "text";
  std::string snapshot_in, snapshot_out;
  std::string storm_seed, baselines_out;
  size_t workers = 1;
  size_t batch_lines = 4096;  // lines per batch handed to the pipeline (the answer is the same)
  bool progress = true;
};

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "smetsmon replay: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

}  // namespace

int RunReplay(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--config") {
      if (!value(&args.config_dir)) return UsageError("--config needs a directory");
    } else if (a == "--inventory") {
      if (!value(&args.inventory)) return UsageError("--inventory needs a CSV file");
    } else if (a == "--rejects") {
      if (!value(&args.rejects)) return UsageError("--rejects needs a file");
    } else if (a == "--report") {
      if (!value(&args.report) || (args.report != "json" && args.report != "text")) {
        return UsageError("--report takes json or text");
      }
    } else if (a == "--snapshot-in") {
      if (!value(&args.snapshot_in)) return UsageError("--snapshot-in needs a file");
    } else if (a == "--snapshot-out") {
      if (!value(&args.snapshot_out)) return UsageError("--snapshot-out needs a file");
    } else if (a == "--storm-seed") {
      if (!value(&args.storm_seed)) return UsageError("--storm-seed needs a file");
    } else if (a == "--baselines-out") {
      if (!value(&args.baselines_out)) return UsageError("--baselines-out needs a file");
    } else if (a == "--workers") {
      std::string n;
      if (!value(&n) || std::atoi(n.c_str()) < 1)
        return UsageError("--workers needs a number >= 1");
      args.workers = static_cast<size_t>(std::atoi(n.c_str()));
    } else if (a == "--batch-lines") {
      std::string n;
      if (!value(&n) || std::atoi(n.c_str()) < 1)
        return UsageError("--batch-lines needs a number >= 1");
      args.batch_lines = static_cast<size_t>(std::atoi(n.c_str()));
    } else if (a == "--no-progress") {
      args.progress = false;
    } else if (a.rfind("--", 0) == 0) {
      return UsageError("unknown option " + a);
    } else {
      args.files.push_back(a);
    }
  }
  if (args.files.empty()) return UsageError("no input file");

  auto settings = LoadSettings(args.config_dir);
  if (!settings.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n",
                 settings.status().ToString().c_str());
    return 2;
  }
  if (args.workers > aggregate::kVirtualShards) {
    return UsageError("--workers is at most " + std::to_string(aggregate::kVirtualShards));
  }
  pipeline::PipelineConfig config;
  config.reference = settings->reference;
  config.engine = settings->engine;
  config.engine.workers = args.workers;
  config.inventory_path = args.inventory;
  config.checkpoint_path = args.snapshot_in;
  config.checkpoint_required = true;
  config.storm_seed_file = args.storm_seed;
  if (!args.snapshot_in.empty() && !std::filesystem::exists(args.snapshot_in)) {
    std::fprintf(stderr, "smetsmon: cannot restore snapshot: %s: no such file\n",
                 args.snapshot_in.c_str());
    return 2;
  }
  std::unique_ptr<ingest::FileDeadLetterSink> rejects;
  if (!args.rejects.empty()) {
    auto sink = ingest::FileDeadLetterSink::Open(args.rejects);
    if (!sink.ok()) {
      std::fprintf(stderr, "smetsmon: %s\n", sink.status().ToString().c_str());
      return 2;
    }
    rejects = std::move(*sink);
  }
  SystemClock clock;
  auto built = pipeline::Pipeline::Create(config, clock);
  if (!built.ok()) {
    std::fprintf(stderr, "smetsmon: configuration error: %s\n", built.status().ToString().c_str());
    return 2;
  }
  pipeline::Pipeline& pipeline = **built;
  if (const catalog::Inventory* inv = pipeline.ref().inventory.get()) {
    const auto& st = inv->stats();
    std::fprintf(
        stderr, "smetsmon: inventory %s: %llu devices, %llu bad rows%s\n", args.inventory.c_str(),
        static_cast<unsigned long long>(inv->size()), static_cast<unsigned long long>(st.bad_rows),
        st.bad_rows ? (" (first at line " + std::to_string(st.first_bad_line) + ")").c_str() : "");
  }
  const bool tty = args.progress && ::isatty(STDERR_FILENO);
  ingest::ReplayOptions options;
  options.rejects = rejects.get();
  options.batch_lines = args.batch_lines;
  const int64_t start_ns = clock.MonotonicNs();
  if (tty) {
    options.on_progress = [&](const ingest::ReplayProgress& p) {
      const double secs = static_cast<double>(clock.MonotonicNs() - start_ns) / 1e9;
      const double pct = p.file_bytes ? 100.0 * static_cast<double>(p.consumed_bytes) /
                                            static_cast<double>(p.file_bytes)
                                      : 100.0;
      std::fprintf(stderr, "\r%s: %5.1f%%  %llu lines  %.0f lines/s   ", p.file.c_str(), pct,
                   static_cast<unsigned long long>(p.lines),
                   secs > 0 ? static_cast<double>(p.lines) / secs : 0.0);
      std::fflush(stderr);
    };
  }
  absl::Status snapshot_written;
  if (!args.snapshot_out.empty()) {
    // The same checkpoint format as the daemon's, without input offsets, taken where a live
    // daemon would be: every line applied, before the report's end-of-stream evaluation.
    options.at_end_of_input = [&] {
      snapshot_written = pipeline.Checkpoint({}, args.snapshot_out).status;
    };
  }
  auto lines = ingest::ReplayFiles(args.files, pipeline, clock, options);
  if (tty) std::fputs("\n", stderr);
  if (!snapshot_written.ok()) {
    std::fprintf(stderr, "smetsmon: cannot write snapshot: %s\n",
                 snapshot_written.ToString().c_str());
    return 1;
  }
  pipeline.Stop();  // every line applied and the rules evaluated at the end: threads done
  if (!lines.ok()) {
    std::fprintf(stderr, "smetsmon: replay failed: %s\n", lines.status().ToString().c_str());
    return 1;
  }
  if (rejects) {
    if (auto s = rejects->Close(); !s.ok()) {
      std::fprintf(stderr, "smetsmon: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (!args.baselines_out.empty()) {
    if (pipeline.evaluator() == nullptr) {
      std::fprintf(stderr, "smetsmon: --baselines-out needs rules (no rules.yaml)\n");
      return 1;
    }
    if (auto s = pipeline.evaluator()->WriteStormBaselines(args.baselines_out); !s.ok()) {
      std::fprintf(stderr, "smetsmon: cannot write storm baselines: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  aggregate::Engine& engine = pipeline.engine();
  std::optional<rules::RulesSnapshot> rules_state;
  if (pipeline.evaluator() != nullptr) rules_state = pipeline.evaluator()->Snapshot();
  report::ReplayStats stats;
  stats.lines_read = *lines;
  stats.files = args.files.size();
  stats.seconds = static_cast<double>(clock.MonotonicNs() - start_ns) / 1e9;
  if (args.report == "json") {
    std::printf(
        "%s\n",
        report::BuildReportJson(engine, stats, rules_state ? &*rules_state : nullptr).c_str());
  } else {
    std::fputs(
        report::BuildReportText(engine, stats, rules_state ? &*rules_state : nullptr).c_str(),
        stdout);
  }
  return 0;
}

}  // namespace smetsmon::app
